package rpcconn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// whereHandler answers every call with whether it runs on the
// connection's reader goroutine (its stack holds readLoop).
type whereHandler struct{}

func (whereHandler) HandleCall(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) (json.RawMessage, error) {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	return json.Marshal(strings.Contains(string(buf), "rpcconn.(*Conn).readLoop"))
}

func (whereHandler) HandleNotification(context.Context, *rpcconn.Conn, *protocol.Message) {}

// Options.Inline picks the requests the reader serves itself: those run on
// the reader, in the order they came, after admission (whose release runs
// once they answered); every other request, and every batch item, still
// runs on a goroutine of its own.
func TestInlineRunsOnTheReader(t *testing.T) {
	var admitted, released atomic.Int64
	opts := rpcconn.Options{
		Inline: func(m *protocol.Message) bool { return strings.HasPrefix(m.Method, "inline.") },
		Admit: func(m *protocol.Message) (func(), *protocol.Error) {
			admitted.Add(1)
			if m.Method == "inline.refused" {
				return nil, protocol.Errorf(protocol.CodeOverloaded, "refused")
			}
			return func() { released.Add(1) }, nil
		},
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = rpcconn.New(context.Background(), ws, whereHandler{}, opts).Run()
	}))
	t.Cleanup(hs.Close)
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	tests := []struct {
		send, want string
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"inline.a"}`, `{"jsonrpc":"2.0","id":1,"result":true}`},
		{`{"jsonrpc":"2.0","id":2,"method":"other"}`, `{"jsonrpc":"2.0","id":2,"result":false}`},
		{`{"jsonrpc":"2.0","id":3,"method":"inline.refused"}`, `{"jsonrpc":"2.0","id":3,"error":{"code":-32003,"message":"refused"}}`},
		{`[{"jsonrpc":"2.0","id":4,"method":"inline.a"}]`, `[{"jsonrpc":"2.0","id":4,"result":false}]`},
	}
	for _, tt := range tests {
		write(t, ws, tt.send)
		if got := read(t, ws); got != tt.want {
			t.Fatalf("sent %s\ngot  %s\nwant %s", tt.send, got, tt.want)
		}
	}
	if admitted.Load() != 4 || released.Load() != 3 {
		t.Errorf("admitted %d, released %d; want 4 and 3", admitted.Load(), released.Load())
	}

	// Pipelined inline calls answer in the order they were sent.
	for _, id := range []string{"5", "6", "7"} {
		write(t, ws, `{"jsonrpc":"2.0","id":`+id+`,"method":"inline.b"}`)
	}
	for _, id := range []string{"5", "6", "7"} {
		if got, want := read(t, ws), `{"jsonrpc":"2.0","id":`+id+`,"result":true}`; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

// TestInlineAnswerToNonReader: the reader writes an inline call's answer
// itself when no writer runs, so a peer that stops reading blocks the
// reader in that write. The write timeout still ends it, and so does a
// shutdown (its close waits for the blocked write at most that long):
// Run returns within WriteTimeout plus the close handshake's 5 s.
func TestInlineAnswerToNonReader(t *testing.T) {
	for _, shutdown := range []bool{false, true} {
		name := "write timeout"
		if shutdown {
			name = "shutdown"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ps := startPipeServer(t, rpcconn.Options{
					Inline:       func(*protocol.Message) bool { return true },
					WriteTimeout: 10 * time.Second,
					PingInterval: -1,
				})
				conn, _ := ps.ln.Dial(t.Context(), "", "")
				defer conn.Close()
				rawHandshake(t, conn) // then never reads again
				c := <-ps.conns
				call := []byte(`{"jsonrpc":"2.0","id":1,"method":"big","params":{"n":65536}}`)
				go func() {
					for range 4 {
						conn.Write(append(frameHeader(1, true, uint64(len(call))), call...))
					}
				}()
				synctest.Wait() // the reader is blocked writing the first answer
				start := time.Now()
				if shutdown {
					go c.Shutdown(context.Background(), errors.New("shutting down"), websocket.StatusGoingAway, "shutting down")
				}
				err := <-ps.errs
				waited := time.Since(start)
				if !shutdown && waited < 10*time.Second {
					t.Errorf("Run returned after %v, before the 10 s write timeout: the peer took the answers", waited)
				}
				if waited > 15*time.Second {
					t.Errorf("Run returned after %v, want within the 10 s write timeout plus 5 s", waited)
				}
				if !shutdown && (err == nil || !strings.Contains(err.Error(), "write timed out")) {
					t.Errorf("Run = %v, want the write timeout", err)
				}
			})
		})
	}
}
