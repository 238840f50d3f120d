package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := a.ws.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != protocol.CloseSessionMoved || !strings.Contains(ce.Reason, "resumed by another connection") {
			t.Fatalf("old socket ended with %v, want close %d with a reason", err, protocol.CloseSessionMoved)
		}
		break
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

// Two host.hello in one batch: one registration survives, without a race
// on the connection's peer (run with -race).
func TestHostHelloBatchRegistersOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{HostBackend: true})
		for range 20 {
			h := tb.dial(t, protocol.PathHost, nil)
			h.send(`[{"jsonrpc":"2.0","id":1,"method":"host.hello","params":{"sessions":"*"}},` +
				`{"jsonrpc":"2.0","id":2,"method":"host.hello","params":{"sessions":["sA","sB"]}}]`)
			var out []json.RawMessage
			if err := json.Unmarshal([]byte(h.recv()), &out); err != nil || len(out) != 2 {
				t.Fatalf("batch answer: %v %d", err, len(out))
			}
			resp, err := tb.hc.Get(tb.url + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			var st struct{ Hosts int }
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.Hosts != 1 {
				t.Fatalf("%d host registrations for one connection", st.Hosts)
			}
			h.ws.Close(websocket.StatusNormalClosure, "")
			waitFor(t, func() bool {
				resp, err := tb.hc.Get(tb.url + "/readyz")
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				var st struct{ Hosts int }
				json.NewDecoder(resp.Body).Decode(&st)
				return st.Hosts == 0
			})
		}
	})
}
