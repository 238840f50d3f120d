package bridge_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestMessageSizeLimit(t *testing.T) {
	tb := startBridge(t, bridge.Config{MaxMessageBytes: 2048})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"description":"` + strings.Repeat("x", 4096) + `"}}}`)
	c.closed(websocket.StatusMessageTooBig)
}

func TestBinaryFrameClosed(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.ws.Write(context.Background(), websocket.MessageBinary, []byte(`{}`))
	if ce := c.closed(websocket.StatusUnsupportedData); !strings.Contains(ce.Reason, "text frame") {
		t.Fatalf("closed with %v, want a reason that names text frames", ce)
	}
}

// TestInvalidUTF8Closes1007: RFC 6455 §8.1.
func TestInvalidUTF8Closes1007(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cif.search\",\"params\":{\"entityName\":\"contact\",\"queryParameters\":\"?$filter=x eq '\xc3\x28'\"}}")
	c.closed(websocket.StatusInvalidFramePayloadData)
}

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
