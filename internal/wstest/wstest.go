// Package wstest serves a bridge to a test and opens the raw WebSocket
// connections the test drives it with: one dial, failed loudly, closed when
// the test ends, and one JSON-RPC call at a time on it.
//
// Entry points: Serve, Dial, Call.
package wstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/protocol"
)

// DialTimeout bounds how long Dial waits for the handshake.
const DialTimeout = 5 * time.Second

// Dial opens a WebSocket to url with opts (nil for the defaults). It fails
// the test when the handshake does not succeed within DialTimeout and closes
// the connection when the test ends.
func Dial(t testing.TB, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DialTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// Server is a bridge as Serve runs it (bridge.Server): an HTTP handler
// with a graceful shutdown.
type Server interface {
	Handler() http.Handler
	Shutdown(ctx context.Context) error
}

// ShutdownTimeout bounds how long Serve's cleanup waits for the shutdown.
const ShutdownTimeout = 5 * time.Second

// Serve runs srv on a loopback HTTP server for the rest of the test and
// returns its base URL with the ws scheme ("ws://127.0.0.1:port"). When the
// test ends srv is shut down (at most ShutdownTimeout), then the server
// closed.
func Serve(t testing.TB, srv Server) string {
	t.Helper()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// Answer is what a test reads of the answer to its call: the JSON-RPC
// fields, and the message as it came (Raw).
type Answer struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *protocol.Error `json:"error"`
	Raw    []byte          `json:"-"`
}

// Call sends one request with id on c and returns the answer to it,
// passing over notifications, requests and other answers. It fails when the
// write or a read does (ctx ended, the peer went away).
func Call(ctx context.Context, c *websocket.Conn, id json.RawMessage, method string, params json.RawMessage) (Answer, error) {
	if err := c.Write(ctx, websocket.MessageText, protocol.AppendRequest(nil, id, method, params)); err != nil {
		return Answer{}, fmt.Errorf("write: %w", err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return Answer{}, fmt.Errorf("read: %w", err)
		}
		var a Answer
		if json.Unmarshal(b, &a) == nil && a.Method == "" && string(a.ID) == string(id) {
			a.Raw = b
			return a, nil
		}
	}
}
