package rpcconn_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// panicHandler panics on "panic" calls and notifications and answers
// "ok" with true; notified gets each notification that got through.
type panicHandler struct{ notified chan string }

func (h *panicHandler) HandleCall(_ context.Context, _ *rpcconn.Conn, m *protocol.Message) (json.RawMessage, error) {
	if strings.HasSuffix(m.Method, "panic") {
		var p []int
		_ = p[len(m.Method)] // a real runtime panic: index out of range
	}
	return json.RawMessage(`true`), nil
}

func (h *panicHandler) HandleNotification(_ context.Context, _ *rpcconn.Conn, m *protocol.Message) {
	if strings.HasSuffix(m.Method, "panic") {
		panic("notification handler bug")
	}
	h.notified <- m.Method
}

// A handler that panics answers its own call with -32603 and nothing else:
// the connection, the calls after it and the daemon go on. On the reader
// (Inline) and on a goroutine of its own, alone and inside a batch.
func TestHandlerPanicAnswersInternalError(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(map[bool]string{true: "on the reader", false: "on a goroutine"}[inline], func(t *testing.T) {
			h := &panicHandler{notified: make(chan string, 4)}
			opts := rpcconn.Options{}
			if inline {
				opts.Inline = func(*protocol.Message) bool { return true }
			}
			errs := make(chan error, 4)
			s := &server{conns: make(chan *rpcconn.Conn, 4)}
			s.hs = httptest.NewServer(serveRPC(h, opts, 1<<20, func(c *rpcconn.Conn, _ *rpcconn.Wire) { s.conns <- c }, errs))
			t.Cleanup(s.hs.Close)
			ws, _ := s.dial(t)

			write(t, ws, `{"jsonrpc":"2.0","id":1,"method":"x.panic"}`)
			if got, want := read(t, ws), `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"internal error"}}`; got != want {
				t.Fatalf("answer to a panicking call:\n got %s\nwant %s", got, want)
			}
			write(t, ws, `{"jsonrpc":"2.0","method":"n.panic"}`)
			write(t, ws, `{"jsonrpc":"2.0","method":"n.ok"}`)
			write(t, ws, `{"jsonrpc":"2.0","id":2,"method":"ok"}`)
			if got, want := read(t, ws), `{"jsonrpc":"2.0","id":2,"result":true}`; got != want {
				t.Fatalf("the call after a panic:\n got %s\nwant %s", got, want)
			}
			write(t, ws, `[{"jsonrpc":"2.0","id":3,"method":"b.panic"},{"jsonrpc":"2.0","id":4,"method":"ok"}]`)
			var batch []map[string]any
			if err := json.Unmarshal([]byte(read(t, ws)), &batch); err != nil || len(batch) != 2 {
				t.Fatalf("batch answer: %v %v", batch, err)
			}
			for _, a := range batch {
				switch a["id"] {
				case 3.0:
					if e, _ := a["error"].(map[string]any); e == nil || e["code"] != -32603.0 {
						t.Errorf("the batch's panicking item: %v", a)
					}
				case 4.0:
					if a["result"] != true {
						t.Errorf("the batch's other item: %v", a)
					}
				}
			}
			select {
			case m := <-h.notified:
				if m != "n.ok" {
					t.Errorf("notification handled: %s, want n.ok", m)
				}
			case <-time.After(10 * time.Second):
				t.Error("the notification after the panicking one was not handled")
			}
			select {
			case err := <-errs:
				t.Fatalf("the connection ended: %v", err)
			default:
			}
		})
	}
}
