package bridge_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestIdleAndStalledSocketsClosed: with the bridge's keepalive, a widget
// socket that answers nothing (not even pings) and one stalled in the
// middle of a message are both gone within 40 s, while a widget that
// reads stays connected (issue 13 item 6: 500 such sockets were still open
// after 40 s).
func TestIdleAndStalledSocketsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, live, ln := serveInBubble(t, bridge.Config{Backend: newEmulator(t, nil)})
		liveCtx := live.ws.CloseRead(context.Background())

		raw := func() io.ReadWriteCloser {
			conn, err := ln.Dial(t.Context(), "", "")
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(conn, "GET "+protocol.PathWidget+" HTTP/1.1\r\nHost: 127.0.0.1:8787\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			return conn
		}
		dead := raw() // never reads or writes again
		defer dead.Close()
		stalled := raw()
		defer stalled.Close()
		// Half of a 100-byte text frame (masked, zero key), then nothing.
		go stalled.Write(append([]byte{0x81, 0x80 | 100, 0, 0, 0, 0}, `{"jsonrpc":"2.0"`...))

		synctest.Wait()
		if n := srv.Connections(); n != 3 {
			t.Fatalf("%d connections, want 3", n)
		}
		time.Sleep(40 * time.Second)
		synctest.Wait()
		if n := srv.Connections(); n != 1 {
			t.Fatalf("%d connections after 40 s, want only the live one", n)
		}
		if liveCtx.Err() != nil {
			t.Fatal("the live widget was closed")
		}
	})
}
