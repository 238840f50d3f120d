package bridge_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

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
		resp, err := tb.hc.Get(tb.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz after shutdown: %d", resp.StatusCode)
		}
	})
}
