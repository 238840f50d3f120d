package bridge_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// A session belongs to whoever holds its resume token: another socket that
// knows only the id gets -32004 and the owner keeps working; with the token
// the session moves and the old socket is closed with 4001.
func TestResumeNeedsTheResumeToken(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	a := tb.dial(t, protocol.PathWidget, nil)
	var ha protocol.HelloResult
	okResult(t, a.call(protocol.MethodHello, map[string]any{"enreachToken": "A-secret"}), &ha)
	if len(ha.ResumeToken) < 32 {
		t.Fatalf("hello result has no real resumeToken: %+v", ha)
	}

	b := tb.dial(t, protocol.PathWidget, nil)
	for _, tt := range []struct {
		name   string
		params map[string]any
	}{
		{name: "id only", params: map[string]any{"session": ha.Session}},
		{name: "wrong token", params: map[string]any{"session": ha.Session, "resumeToken": strings.Repeat("0", 32)}},
		{name: "another session's token", params: map[string]any{"session": ha.Session, "resumeToken": hello(t, b).ResumeToken}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := b.call(protocol.MethodHello, tt.params)
			wantCode(t, r, protocol.CodeUnauthorized)
			if !strings.Contains(r.Error.Message, "resumeToken") {
				t.Fatalf("the message does not say what to send: %q", r.Error.Message)
			}
		})
	}
	// A is untouched: its session still answers on its socket.
	okResult(t, a.call(protocol.MethodGetEnvironment, nil), nil)
	if got := tb.srv.Session(ha.Session).EnreachToken(); got != "A-secret" {
		t.Fatalf("A's enreach token became %q", got)
	}

	// With the token, B takes the session over and A is told why.
	var hb protocol.HelloResult
	okResult(t, b.call(protocol.MethodHello, map[string]any{"session": ha.Session, "resumeToken": ha.ResumeToken}), &hb)
	if !hb.Resumed || hb.Session != ha.Session || hb.ResumeToken != ha.ResumeToken {
		t.Fatalf("resume: %+v", hb)
	}
	if ce := a.closed(protocol.CloseSessionMoved); !strings.Contains(ce.Reason, "resumed by another connection") {
		t.Fatalf("old socket closed with %v, want a reason", ce)
	}
	// Notifications now reach B.
	if !tb.srv.Notify(ha.Session, "bridge.test", map[string]int{"n": 1}) {
		t.Fatal("notify found no connection")
	}
	if r := b.recvReply(); r.Method != "bridge.test" {
		t.Fatalf("B got %+v", r)
	}
}

// Two sockets claiming one unknown session id at once: exactly one gets it.
// The loser's own session then ends; the winner's must not be forgotten
// with it (an orphan's expiry used to forget the live session by id).
func TestConcurrentResumeOfOneIDHasOneOwner(t *testing.T) {
	ended := make(chan string, 64)
	tb := startBridge(t, bridge.Config{ResumeWindow: time.Millisecond, OnSessionEnd: func(id string) { ended <- id }})
	for i := range 10 {
		id := "sRACE" + itoa(i)
		conns := []*wsClient{tb.dial(t, protocol.PathWidget, nil), tb.dial(t, protocol.PathWidget, nil)}
		own := make([]string, 2)
		for j, c := range conns {
			own[j] = hello(t, c).Session
		}
		replies := make([]reply, 2)
		var wg sync.WaitGroup
		for j, c := range conns {
			wg.Go(func() {
				c.send(`{"jsonrpc":"2.0","id":7,"method":"bridge.hello","params":{"session":"` + id + `"}}`)
				replies[j] = c.recvReply()
			})
		}
		wg.Wait()
		winner, loser := 0, 1
		if replies[0].Error != nil {
			winner, loser = 1, 0
		}
		okResult(t, replies[winner], nil)
		wantCode(t, replies[loser], protocol.CodeUnauthorized)
		// The winner's old session ended when it moved; the loser keeps its own.
		if got := <-ended; got != own[winner] {
			t.Fatalf("ended %s, want the winner's old session %s", got, own[winner])
		}
		conns[loser].ws.Close(websocket.StatusNormalClosure, "")
		if got := <-ended; got != own[loser] {
			t.Fatalf("ended %s, want the loser's session %s", got, own[loser])
		}
		if tb.srv.Session(id) == nil {
			t.Fatalf("%s was forgotten while its owner is connected", id)
		}
		okResult(t, conns[winner].call(protocol.MethodGetEnvironment, nil), nil)
		conns[winner].ws.Close(websocket.StatusNormalClosure, "")
		if got := <-ended; got != id {
			t.Fatalf("ended %s, want %s", got, id)
		}
	}
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
		var raw json.RawMessage
		tb.httpJSON(t, http.MethodGet, "/api/v1/sessions", nil, &raw)
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
