package rpcconn

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/cifbridge/cifbridge/protocol"
)

// Call sends a request and waits for its response, the end of ctx or the end
// of the connection. A response error comes back as a *protocol.Error; the
// end of the connection as a *ClosedError with the read error (or
// ErrNotSent when the request never left).
func (c *Conn) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return c.CallObserved(ctx, method, params, nil)
}

// CallObserved is Call that also shows observe (when not nil) the request
// as sent ("out") and the response that answers it ("in", re-encoded from
// the decoded message, since a response may have arrived inside a batch).
// The host hub uses it to put host frames in the capture of the session a
// call belongs to, which the connection-wide Options.OnFrame cannot know.
func (c *Conn) CallObserved(ctx context.Context, method string, params json.RawMessage, observe func(dir string, msg []byte)) (json.RawMessage, error) {
	id := strconv.AppendInt(nil, c.seq.Add(1), 10)
	ch := make(chan *protocol.Message, 1)
	if !c.register(string(id), ch) {
		return nil, ErrNotSent
	}
	req := protocol.AppendRequest(nil, id, method, params)
	if observe != nil {
		observe("out", req)
	}
	if !c.send(req) {
		c.forget(string(id))
		return nil, ErrNotSent
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, c.closedErr()
		}
		if observe != nil {
			observe("in", protocol.AppendResponse(nil, m.ID, m.Result, m.Error))
		}
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		c.forget(string(id))
		return nil, context.Cause(ctx)
	}
}

// Notify queues a notification without waiting. It returns ErrClosed when
// the connection is closing (the notification would never be written).
func (c *Conn) Notify(method string, params json.RawMessage) error {
	if !c.send(protocol.AppendRequest(nil, nil, method, params)) {
		return ErrClosed
	}
	return nil
}

// deliver hands a response to the call waiting for it.
func (c *Conn) deliver(m *protocol.Message) {
	if ch, ok := c.take(string(m.ID)); ok {
		ch <- m
		return
	}
	if c.opts.OnUnmatched != nil {
		c.opts.OnUnmatched(m)
	} else {
		c.log.Debug().Int("idBytes", len(m.ID)).Msg("dropped a response that matches no pending call")
	}
}
