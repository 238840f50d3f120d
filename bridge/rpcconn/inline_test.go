package rpcconn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

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
// runs on a goroutine of its own. With a Wire the reader writes their
// answers itself (try mode); without one a writer goroutine does.
func TestInlineRunsOnTheReader(t *testing.T) {
	for _, wire := range []bool{true, false} {
		t.Run(map[bool]string{true: "wire", false: "no wire"}[wire], func(t *testing.T) { testInlineRunsOnTheReader(t, wire) })
	}
}

func testInlineRunsOnTheReader(t *testing.T, wire bool) {
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
		gw := rpcconn.GuardFrames(w, 1<<20)
		ws, err := websocket.Accept(gw, r, nil)
		if err != nil {
			return
		}
		opts := opts
		if wire {
			opts.Wire = rpcconn.WireOf(gw)
		}
		_ = rpcconn.New(context.Background(), ws, whereHandler{}, opts).Run()
	}))
	t.Cleanup(hs.Close)
	ws, _, err := websocket.Dial(t.Context(), wsURL(hs), nil)
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
