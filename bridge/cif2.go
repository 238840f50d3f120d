package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/workspace"
	"github.com/cifbridge/cifbridge/protocol"
)

// cifCall serves one cif.* widget call: validates it, picks who answers
// (protocol.CIFMethods: the backend, the agent workspace unless a host peer
// serves the session, or the bridge itself) and the timeout class (the CIF
// timeout, or none for the calls CIF posts without a timer). answered is
// when the answer was had, when the correlation table tells
// (correlation.Sent.Answered), else zero.
func (wc *widgetConn) cifCall(ctx context.Context, sess *Session, m *protocol.Message) (json.RawMessage, time.Time, error) {
	params, typed, err := validateRequest(m)
	if err != nil {
		return nil, time.Time{}, err
	}
	s := wc.s
	// Unnamed: the widget's answer does not name an attempt answered in
	// time, so one answered at once needs no name (correlation.DoBegin).
	a := correlation.Attempt{RequestID: m.ID, Method: m.Method, Params: params, Typed: typed, Started: m.Received, Unnamed: true}
	var via backend.Backend // nil: the session's backend
	if spec := wc.method(m.Method).spec; spec != nil {
		a.NoTimeout = spec.Timeout == protocol.TimeoutNone
		switch spec.Answer {
		case protocol.AnswerBridge:
			p, ok := typed.(*protocol.RaiseEventCallParams)
			if !ok {
				return nil, time.Time{}, protocol.InvalidParams("cif.raiseEvent needs {\"eventName\", \"eventInputParameters\"}")
			}
			res, err := s.raiseToWidget(ctx, sess, p)
			return res, time.Time{}, err
		case protocol.AnswerWorkspace:
			// A host peer serving the session answers; else the workspace.
			if s.hosts.pick(sess.ID) != nil {
				via = s.hosts
				break
			}
			// A cif1 session runs in the classic model-driven app, not a
			// multisession console.
			if profile, _ := sess.Profile(); m.Method == protocol.MethodIsConsoleApp && profile == protocol.ProfileCIF1 {
				return json.RawMessage("false"), time.Time{}, nil
			}
			via = s.workspaces.Get(sess.ID)
		}
	}
	res, sent, err := s.attemptOn(ctx, sess, a, via)
	if err == nil {
		switch m.Method {
		case protocol.MethodSetClickToAct, protocol.MethodSetMode, protocol.MethodSetWidth:
			if p, ok := typed.(*protocol.ValueParams); ok {
				s.workspaces.Get(sess.ID).ObservePanel(m.Method, p.Value)
			}
		}
	}
	return res, sent.Answered, err
}

// raiseToWidget serves cif.raiseEvent: the emulated main page has no
// handlers of its own, so the event goes back to the widget's handlers
// (addHandler), as CIF's reference example does. It resolves true once the
// widget answered.
func (s *Server) raiseToWidget(ctx context.Context, sess *Session, p *protocol.RaiseEventCallParams) (json.RawMessage, error) {
	if strings.TrimSpace(p.EventName) == "" {
		return nil, protocol.InvalidParams("\"eventName\" is blank: name the event whose handler to invoke")
	}
	data := p.EventInputParameters
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	if _, err := s.RaiseEvent(ctx, sess.ID, p.EventName, data); err != nil {
		return nil, err
	}
	return json.RawMessage("true"), nil
}

// raiseFromWorkspace sends a workspace event to the widget (the
// workspace's event loop calls it, one event at a time).
func (s *Server) raiseFromWorkspace(ctx context.Context, session, event string, data json.RawMessage) {
	_, err := s.RaiseEvent(ctx, session, event, data)
	switch {
	case err == nil:
	case errors.Is(err, protocol.ErrNoBackend), ctx.Err() != nil:
		s.log.Debug().Str("session", session).Str("event", event).Err(err).Msg("workspace event not delivered")
	default:
		s.log.Warn().Str("session", session).Str("event", event).Err(err).Msg("workspace event: the widget did not answer")
	}
}

// Workspace returns the agent workspace of a live session, creating it;
// nil when the session does not exist.
func (s *Server) Workspace(session string) *workspace.Workspace {
	if s.sessions.get(session) == nil {
		return nil
	}
	return s.workspaces.Get(session)
}
