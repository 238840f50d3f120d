package bridge_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// drainingWithHeldCall serves a bridge whose backend holds every call until
// release is closed, sends it one call (a getmode with id) and, once that
// call is in flight, starts its Shutdown with drain as the drain time. It
// returns when the bridge no longer says it is ready, with the widget
// socket and the channel that gets what Shutdown returns.
func drainingWithHeldCall(t *testing.T, drain time.Duration, id string, release <-chan struct{}) (*testBridge, *wsClient, <-chan error) {
	t.Helper()
	tb := startBridgeInBubble(t, bridge.Config{Backend: blockingBackend(release), DrainTimeout: drain})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"cif.getmode"}`)
	waitFor(t, func() bool { return tb.srv.Table().Stats().InFlight == 1 })
	done := make(chan error, 1)
	go func() { done <- tb.srv.Shutdown(context.Background()) }()
	waitFor(t, func() bool { return !tb.srv.Ready() })
	return tb, c, done
}

// A call the backend already has when the drain runs out is answered -32007
// with data.delivered true (it may have run); a call refused at the door
// says nothing of the kind.
func TestShutdownSaysDelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := newEmulator(t, &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 1500}}})
		tb := startBridgeInBubble(t, bridge.Config{Backend: emu, DrainTimeout: 50 * time.Millisecond})
		w := tb.dial(t, protocol.PathWidget, nil)
		sess := hello(t, w).Session
		w.send(`{"jsonrpc":"2.0","id":"c1","method":"cif.createrecord","params":{"entityName":"contact","value":{"lastname":"Drain"}}}`)
		waitFor(t, func() bool { return len(tb.srv.Table().InFlight(sess)) == 1 })

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- tb.srv.Shutdown(ctx) }()
		r := w.recvReply()
		wantCode(t, r, protocol.CodeShuttingDown)
		if d, ok := protocol.Delivered(r.Error); !ok || !d {
			t.Fatalf("answer at shutdown %+v: want data.delivered true", r.Error)
		}
		go func() { // take the close frame, as a widget would
			for {
				if _, _, err := w.ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// The emulator waits its latency out whatever happens: let it finish.
		time.Sleep(1500 * time.Millisecond)
		waitFor(t, func() bool { return emu.Stats().Operations["createrecord"] == 1 })
		// A new connection is refused before anything is delivered.
		if got := tb.httpJSON(t, http.MethodGet, "/readyz", nil, nil); got != http.StatusServiceUnavailable {
			t.Fatalf("/readyz after shutdown: %d", got)
		}
	})
}

// TestGracefulShutdown: readiness turns 503, a call still running when the
// drain time is up is answered -32007, sockets close with 1001.
func TestGracefulShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		tb, c, done := drainingWithHeldCall(t, 300*time.Millisecond, `"held"`, release)
		if got := tb.httpJSON(t, http.MethodGet, "/readyz", nil, nil); got != http.StatusServiceUnavailable {
			t.Fatalf("readyz while draining: %d", got)
		}
		r := c.recvReply()
		if string(r.ID) != `"held"` {
			t.Fatalf("reply %+v", r)
		}
		wantCode(t, r, protocol.CodeShuttingDown)
		c.closed(websocket.StatusGoingAway)
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	})
}

// TestShutdownWaitsForInFlight: a call that finishes within the drain time is
// answered normally, and new work is refused meanwhile.
func TestShutdownWaitsForInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		_, c, done := drainingWithHeldCall(t, 5*time.Second, "7", release)
		wantCode(t, c.call(protocol.MethodGetMode, nil), protocol.CodeShuttingDown)
		close(release)
		r := c.recvReply()
		if string(r.ID) != "7" || r.Error != nil {
			t.Fatalf("in-flight call = %+v, want its normal answer", r)
		}
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	})
}
