package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/protocol"
)

// WhoHasService is gathered to find the node holding a session: only that
// node answers.
const WhoHasService = "whohas"

// NodeEventsService is the service raising events on node's sessions.
func NodeEventsService(node string) string { return "node." + node + ".events" }

// DefaultLookupTimeout bounds the search for a session's node: past it the
// session is on no node.
const DefaultLookupTimeout = 500 * time.Millisecond

// maxEventWait bounds an event call whose caller set no deadline: the CIF
// 2.0 timeout (100 s) and then some.
const maxEventWait = 3 * time.Minute

type eventRequest struct {
	Session   string          `json:"session"`
	Token     string          `json:"resumeToken,omitempty"` // a release's
	EventType string          `json:"eventType,omitempty"`
	EventData json.RawMessage `json:"eventData,omitempty"`
}

// Events raises events on sessions held by other nodes (the admin API's
// POST /api/v1/sessions/{id}/events, a host peer's host.raiseEvent): the
// bridge's Config.EventFallback is Raise.
type Events struct {
	Router Router
	Node   string
	// Has reports whether this node holds session (bridge.Server.Session).
	Has func(session string) bool
	// RaiseLocal raises an event on this node's session
	// (bridge.Server.RaiseLocalEvent).
	RaiseLocal func(ctx context.Context, session, eventType string, eventData json.RawMessage) (json.RawMessage, error)
	// Release gives a session of this node up to another node its widget
	// resumed it on (bridge.Server.ReleaseSession); nil: sessions do not
	// move.
	Release       func(session, token string) (found bool, err error)
	LookupTimeout time.Duration // DefaultLookupTimeout unless set
	Log           zerolog.Logger
	Metrics       *Metrics // when set, counts the events sent (kind "event")
}

// Serve answers other nodes: "who holds session X?" when this node does,
// and their events on this node's sessions.
func (e *Events) Serve() (stop func(), err error) {
	stopWho, err := e.Router.ServeAll(WhoHasService, func(ctx context.Context, in []byte) []byte {
		var req eventRequest
		if json.Unmarshal(in, &req) != nil || !e.Has(req.Session) {
			return nil // not here: no answer
		}
		return encodeReply(reply{Node: e.Node})
	})
	if err != nil {
		return nil, err
	}
	stopEvents, err := e.Router.Serve(NodeEventsService(e.Node), func(ctx context.Context, in []byte) []byte {
		rep := reply{Node: e.Node}
		var req eventRequest
		if err := json.Unmarshal(in, &req); err != nil {
			rep.Error = protocol.NewError(protocol.CodeInvalidRequest, "cluster event cannot be decoded: "+err.Error(), nil)
			return encodeReply(rep)
		}
		res, err := e.RaiseLocal(ctx, req.Session, req.EventType, req.EventData)
		if err != nil {
			rep.Error = protocol.AsError(err)
		} else {
			rep.Result = res
		}
		return encodeReply(rep)
	})
	if err != nil {
		stopWho()
		return nil, err
	}
	stopRelease := func() {}
	if e.Release != nil {
		stopRelease, err = e.Router.Serve(NodeReleaseService(e.Node), func(ctx context.Context, in []byte) []byte {
			rep := reply{Node: e.Node}
			var req eventRequest
			if err := json.Unmarshal(in, &req); err != nil {
				rep.Error = protocol.NewError(protocol.CodeInvalidRequest, "cluster release cannot be decoded: "+err.Error(), nil)
				return encodeReply(rep)
			}
			found, err := e.Release(req.Session, req.Token)
			if err != nil {
				rep.Error = protocol.AsError(err)
			} else {
				rep.Result, _ = json.Marshal(found)
			}
			return encodeReply(rep)
		})
		if err != nil {
			stopWho()
			stopEvents()
			return nil, err
		}
	}
	return func() { stopWho(); stopEvents(); stopRelease() }, nil
}

// NodeReleaseService is the service giving node's sessions up to others.
func NodeReleaseService(node string) string { return "node." + node + ".release" }

// Resume finds the node holding session and asks it to give the session
// up (bridge Config.ResumeElsewhere): found false when no node holds it;
// the holder's -32004 when token is not the session's.
func (e *Events) Resume(ctx context.Context, session, token string) (found bool, err error) {
	body, _ := json.Marshal(eventRequest{Session: session, Token: token})
	owner := e.holder(ctx, body)
	if owner.Node == "" || owner.Node == e.Node {
		return false, nil // on no other node: a new session with this id, as on one node
	}
	return e.ReleaseOn(ctx, owner.Node, session, token)
}

// ReleaseOn asks node to give session up (its widget resumed it here):
// found false when node does not hold it or is gone; node's -32004 when
// token is not the session's.
func (e *Events) ReleaseOn(ctx context.Context, node, session, token string) (found bool, err error) {
	body, _ := json.Marshal(eventRequest{Session: session, Token: token})
	out, err := e.Router.Call(ctx, NodeReleaseService(node), body)
	if err != nil {
		// The holder went away (or between the lookup and the release), or
		// cannot release: its session is lost either way.
		e.Log.Warn().Err(err).Str("session", session).Str("holder", node).Msg("cluster: the node holding the session did not give it up")
		return false, nil
	}
	var rep reply
	if err := json.Unmarshal(out, &rep); err != nil {
		return false, protocol.NewError(protocol.CodeInternal, "node "+node+"'s answer cannot be decoded: "+err.Error(), nil)
	}
	if rep.Error != nil {
		return false, protocol.AsError(rep.Error)
	}
	return string(rep.Result) == "true", nil
}

// holder asks the cluster, within LookupTimeout, which node holds the
// session body names; a zero reply when none answers.
func (e *Events) holder(ctx context.Context, body []byte) reply {
	lookup := e.LookupTimeout
	if lookup <= 0 {
		lookup = DefaultLookupTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, lookup)
	defer cancel()
	answers, err := e.Router.Gather(lctx, WhoHasService, body, 1)
	var owner reply
	if err != nil || len(answers) == 0 || json.Unmarshal(answers[0], &owner) != nil {
		return reply{}
	}
	return owner
}

// Raise finds the node holding session and raises the event there: the
// widget's answer, its error, or -32002 when no node holds the session.
func (e *Events) Raise(ctx context.Context, session, eventType string, eventData json.RawMessage) (json.RawMessage, error) {
	start := time.Now()
	res, err := e.raise(ctx, session, eventType, eventData)
	e.Metrics.observe("event", start, err)
	return res, err
}

func (e *Events) raise(ctx context.Context, session, eventType string, eventData json.RawMessage) (json.RawMessage, error) {
	body, err := json.Marshal(eventRequest{Session: session, EventType: eventType, EventData: eventData})
	if err != nil {
		return nil, protocol.InvalidParams("\"eventData\": %v", err)
	}
	owner := e.holder(ctx, body)
	if owner.Node == "" {
		return nil, protocol.NewNoBackendError(false, "no live session %s on any node of the cluster", session)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxEventWait)
		defer cancel()
	}
	out, err := e.Router.Call(ctx, NodeEventsService(owner.Node), body)
	switch {
	case errors.Is(err, ErrNoResponders):
		return nil, protocol.Errorf(protocol.CodeNoBackend, "node %s, which holds session %s, went away", owner.Node, session)
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, protocol.Errorf(protocol.CodeNoBackend, "the event to session %s on node %s was lost: %v", session, owner.Node, err)
	}
	var rep reply
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, protocol.NewError(protocol.CodeInternal, "node "+owner.Node+"'s answer cannot be decoded: "+err.Error(), nil)
	}
	if rep.Error != nil {
		return nil, protocol.AsError(rep.Error)
	}
	if len(rep.Result) == 0 {
		return json.RawMessage("null"), nil
	}
	return rep.Result, nil
}
