// Package wstest opens the raw WebSocket connections tests drive a bridge
// with: one dial, failed loudly, closed when the test ends.
//
// Entry point: Dial.
package wstest

import (
	"context"
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
