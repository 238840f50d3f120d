package bridge

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// RaiseEvent sends the event request cif.<eventType> {eventData} to the
// session's newest widget connection and returns the widget's answer, or the
// CIF timeout error when it does not answer in time. A session this node
// does not hold goes to Config.EventFallback when set (a cluster: the node
// that holds it).
func (s *Server) RaiseEvent(ctx context.Context, session, eventType string, eventData json.RawMessage) (json.RawMessage, error) {
	if fb := s.cfg.EventFallback; fb != nil && eventType != "" && protocol.SessionIDValid(session) && s.sessions.get(session) == nil {
		return fb(ctx, session, eventType, eventData)
	}
	return s.RaiseLocalEvent(ctx, session, eventType, eventData)
}

// RaiseLocalEvent is RaiseEvent on this node's sessions only.
func (s *Server) RaiseLocalEvent(ctx context.Context, session, eventType string, eventData json.RawMessage) (json.RawMessage, error) {
	if eventType == "" {
		return nil, protocol.InvalidParams("\"eventType\" is blank: name the CIF event, e.g. \"onclicktoact\"")
	}
	if !protocol.SessionIDValid(session) {
		return nil, protocol.InvalidParams("\"session\" must be a session id")
	}
	sess := s.sessions.get(session)
	if sess == nil {
		return nil, protocol.Errorf(protocol.CodeNoBackend, "no live session %s", session)
	}
	c := sess.conn()
	if c == nil {
		return nil, protocol.Errorf(protocol.CodeNoBackend, "session %s has no widget connected", session)
	}
	if len(eventData) == 0 {
		eventData = json.RawMessage("null")
	}
	// While click-to-act is off, CIF's host answers onclicktoact with false
	// itself and the widget never sees it.
	if eventType == "onclicktoact" {
		if w := s.workspaces.Lookup(session); w != nil && !w.ClickToAct() {
			return json.RawMessage("false"), nil
		}
	}
	params, err := protocol.Raw(protocol.EventParams{EventData: eventData})
	if err != nil {
		return nil, protocol.InvalidParams("\"eventData\": %v", err)
	}
	_, timeout := sess.Profile()
	method := protocol.EventPrefix + eventType
	res, _, err := s.table.Do(ctx, correlation.Attempt{Kind: correlation.KindEvent, Session: session, Method: method, Timeout: timeout},
		func(ctx context.Context, _ *correlation.Attempt) (json.RawMessage, error) {
			res, err := c.Call(ctx, method, params)
			if errors.Is(err, rpcconn.ErrClosed) {
				return nil, protocol.Errorf(protocol.CodeNoBackend, "the widget of session %s disconnected before answering", session)
			}
			return res, err
		})
	return res, err
}
