package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestMessageSizeLimit(t *testing.T) {
	tb := startBridge(t, bridge.Config{MaxMessageBytes: 2048})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"description":"` + strings.Repeat("x", 4096) + `"}}}`)
	_, _, err := c.ws.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("read after oversized message: %v, want close 1009", err)
	}
}

func TestBinaryFrameClosed(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.ws.Write(context.Background(), websocket.MessageBinary, []byte(`{}`))
	_, _, err := c.ws.Read(context.Background())
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusUnsupportedData || !strings.Contains(ce.Reason, "text frame") {
		t.Fatalf("got %v, want 1003 with a reason", err)
	}
}

// TestInvalidUTF8Closes1007: RFC 6455 §8.1.
func TestInvalidUTF8Closes1007(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cif.search\",\"params\":{\"entityName\":\"contact\",\"queryParameters\":\"?$filter=x eq '\xc3\x28'\"}}")
	_, _, err := c.ws.Read(context.Background())
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("got %v, want close 1007", err)
	}
}

func TestInFlightLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		tb := startBridgeInBubble(t, bridge.Config{Backend: blockingBackend(release), MaxInFlight: 2})
		c := tb.dial(t, protocol.PathWidget, nil)
		c.send(`{"jsonrpc":"2.0","id":1,"method":"cif.getmode"}`)
		c.send(`{"jsonrpc":"2.0","id":2,"method":"cif.getmode"}`)
		waitFor(t, func() bool { return tb.srv.Table().Stats().InFlight == 2 })
		r := c.call(protocol.MethodGetMode, nil)
		wantCode(t, r, protocol.CodeOverloaded)
		if !strings.Contains(r.Error.Message, "--max-inflight") {
			t.Errorf("message %q does not say what to change", r.Error.Message)
		}
		close(release)
		got := map[string]bool{}
		for range 2 {
			got[string(c.recvReply().ID)] = true
		}
		if !got["1"] || !got["2"] {
			t.Fatalf("held calls answered: %v", got)
		}
		okResult(t, c.call(protocol.MethodGetMode, nil), nil)
	})
}

func TestSessionsAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		tb := startBridgeInBubble(t, bridge.Config{Backend: blockingBackend(release)})
		c := tb.dial(t, protocol.PathWidget, nil)
		var h protocol.HelloResult
		okResult(t, c.call(protocol.MethodHello, map[string]any{"client": "softphone/1", "enreachToken": "tok-SECRET"}), &h)
		c.send(`{"jsonrpc":"2.0","id":"w","method":"cif.createrecord","params":{"entityName":"contact","value":{}}}`)
		waitFor(t, func() bool { return tb.srv.Table().Stats().InFlight == 1 })
		resp, err := tb.hc.Get(tb.url + "/api/v1/sessions")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(raw), "SECRET") {
			t.Fatalf("sessions API leaks the Enreach token: %s", raw)
		}
		var body struct {
			Sessions []struct {
				ID       string `json:"id"`
				Client   string `json:"client"`
				InFlight []struct {
					Method    string          `json:"method"`
					RequestID json.RawMessage `json:"requestId"`
				} `json:"inflight"`
			} `json:"sessions"`
		}
		json.Unmarshal(raw, &body)
		if len(body.Sessions) != 1 || body.Sessions[0].ID != h.Session || body.Sessions[0].Client != "softphone/1" ||
			len(body.Sessions[0].InFlight) != 1 || body.Sessions[0].InFlight[0].Method != protocol.MethodCreateRecord || string(body.Sessions[0].InFlight[0].RequestID) != `"w"` {
			t.Fatalf("sessions = %s", raw)
		}
	})
}

func TestSessionResume(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c1 := tb.dial(t, protocol.PathWidget, nil)
	h1 := hello(t, c1)
	okResult(t, c1.call(protocol.MethodSetMode, map[string]any{"value": 0}), nil)
	c1.ws.Close(websocket.StatusNormalClosure, "")
	c2 := tb.dial(t, protocol.PathWidget, nil)
	var h2 protocol.HelloResult
	okResult(t, c2.call(protocol.MethodHello, map[string]any{"session": h1.Session, "resumeToken": h1.ResumeToken}), &h2)
	if h2.Session != h1.Session || !h2.Resumed {
		t.Fatalf("resume = %+v, want session %s resumed", h2, h1.Session)
	}
	if r := c2.call(protocol.MethodGetMode, nil); string(r.Result) != "0" {
		t.Errorf("session state lost across resume: mode %s", r.Result)
	}
	wantCode(t, c2.call(protocol.MethodHello, map[string]any{"session": "bad id!"}), protocol.CodeInvalidParams)
}
