// Package wstest serves a bridge to a test and opens the raw WebSocket
// connections the test drives it with: one dial, failed loudly, closed when
// the test ends.
//
// Entry points: Serve, Dial.
package wstest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
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
