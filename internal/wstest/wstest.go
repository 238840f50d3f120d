// Package wstest opens a WebSocket pair over loopback for tests and
// benchmarks: one end accepted by an httptest server, the other dialled to
// it, both plain coder/websocket connections. It imports only
// coder/websocket and the standard library, so that any package's tests,
// bridge/rpcconn's in-package ones included, can use it.
//
// Entry point: Pair.
package wstest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// Pair accepts one WebSocket on a loopback httptest server and dials it:
// server is the accepted end, client the dialled one. wrap, if not nil,
// wraps the server's http.ResponseWriter before the upgrade (e.g.
// rpcconn.GuardFrames). Both ends and the server close when tb ends.
func Pair(tb testing.TB, wrap func(http.ResponseWriter) http.ResponseWriter) (server, client *websocket.Conn) {
	tb.Helper()
	accepted := make(chan *websocket.Conn, 1)
	done := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wrap != nil {
			w = wrap(w)
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		accepted <- ws
		// The upgraded connection lives only while the handler runs.
		<-done
	}))
	// Cleanups run last-registered first: the ends close, then the
	// handler returns, then the server closes.
	tb.Cleanup(hs.Close)
	tb.Cleanup(func() { close(done) })
	client, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.CloseNow() })
	server = <-accepted
	tb.Cleanup(func() { server.CloseNow() })
	return server, client
}
