package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/sourcegraph/jsonrpc2"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// testHost is a small host peer on the Go client: it answers cif.createrecord
// with a fixed id, blocks cif.retrieverecord until released, and records the
// sessions it saw.
type testHost struct {
	conn    *jsonrpc2.Conn
	release chan struct{}
	mu      sync.Mutex
	seen    []string
}

func startHost(t *testing.T, tb *testBridge, sessions any) *testHost {
	t.Helper()
	h := &testHost{release: make(chan struct{})}
	handler := jsonrpc2.HandlerWithError(func(ctx context.Context, c *jsonrpc2.Conn, r *jsonrpc2.Request) (any, error) {
		var p struct {
			Session    string `json:"session"`
			EntityName string `json:"entityName"`
		}
		json.Unmarshal(*r.Params, &p)
		h.mu.Lock()
		h.seen = append(h.seen, p.Session)
		h.mu.Unlock()
		switch r.Method {
		case protocol.MethodCreateRecord:
			return protocol.CreateResult{EntityType: p.EntityName, ID: "00000000-0000-4000-8000-00000000h057"}, nil
		case protocol.MethodRetrieveRecord:
			select {
			case <-h.release:
				return map[string]string{"late": "yes"}, nil
			case <-ctx.Done(): // the connection closed
				return nil, ctx.Err()
			}
		}
		return nil, &jsonrpc2.Error{Code: protocol.CodeBackend, Message: "host cannot " + r.Method}
	})
	h.conn = tb.dialHost(t, handler, "", sessions, "test-host")
	return h
}

// Host frames go to the capture of the session whose call they carry, in
// order with the backend attempt they serve.
func TestHostFramesAreCapturedPerSession(t *testing.T) {
	type frame struct{ session, peer, dir, msg string }
	var mu sync.Mutex
	var frames []frame
	tb := startBridge(t, bridge.Config{HostBackend: true, OnFrame: func(session, peer, dir string, msg []byte) {
		mu.Lock()
		frames = append(frames, frame{session, peer, dir, string(msg)})
		mu.Unlock()
	}})
	w := tb.dial(t, protocol.PathWidget, nil)
	sess := hello(t, w).Session
	startHost(t, tb, "*")
	okResult(t, w.call(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "A"}}), nil)
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, f := range frames {
		if f.peer == "widget" {
			continue
		}
		if f.session != sess {
			t.Errorf("%s %s frame for session %q, want %q: %s", f.peer, f.dir, f.session, sess, f.msg)
		}
		got = append(got, f.peer+" "+f.dir)
		switch {
		case f.peer == "host" && f.dir == "out" && !strings.Contains(f.msg, `"session":"`+sess+`"`):
			t.Errorf("host request lacks the session: %s", f.msg)
		case f.peer == "host" && f.dir == "in" && !strings.Contains(f.msg, "00000000-0000-4000-8000-00000000h057"):
			t.Errorf("host answer lacks the host's result: %s", f.msg)
		}
	}
	if want := "backend out,host out,host in,backend in"; strings.Join(got, ",") != want {
		t.Fatalf("frames %v, want %s", got, want)
	}
}

func TestHostPeerRouting(t *testing.T) {
	tb := startBridge(t, bridge.Config{HostBackend: true})
	w := tb.dial(t, protocol.PathWidget, nil)
	sess := hello(t, w).Session

	// No host yet: -32002 (at once: a wait for the CIF timeout would end
	// in -32000 instead), and the call provably never ran.
	r := w.call(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{}})
	wantCode(t, r, protocol.CodeNoBackend)
	if d, ok := protocol.NoBackend(r.Error); !ok || d.Delivered {
		t.Errorf("data %s: want delivered false", r.Error.Data)
	}

	other := startHost(t, tb, []string{"sOther"})
	h := startHost(t, tb, "*")
	var res protocol.CreateResult
	okResult(t, w.call(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "A"}}), &res)
	if res.ID != "00000000-0000-4000-8000-00000000h057" {
		t.Fatalf("host answer = %+v", res)
	}
	h.mu.Lock()
	if len(h.seen) != 1 || h.seen[0] != sess {
		t.Errorf("host saw sessions %v, want [%s]", h.seen, sess)
	}
	h.mu.Unlock()
	if len(other.seen) != 0 {
		t.Errorf("a host for another session got the call")
	}
	// Host errors pass through with their code.
	wantCode(t, w.call(protocol.MethodDeleteRecord, map[string]any{"entityName": "contact", "entityId": "x"}), protocol.CodeBackend)
}

func TestHostDisconnectFailsInFlightAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{HostBackend: true})
		w := tb.dial(t, protocol.PathWidget, nil)
		hello(t, w)
		h := startHost(t, tb, "*")
		w.send(`{"jsonrpc":"2.0","id":"r1","method":"cif.retrieverecord","params":{"entityName":"contact","entityId":"x"}}`)
		// Wait until the attempt is in flight, then drop the host.
		waitFor(t, func() bool { return tb.srv.Table().Stats().InFlight == 1 })
		h.conn.Close()
		r := w.recvReply()
		wantCode(t, r, protocol.CodeNoBackend) // at once: a wait for the CIF timeout would be -32000
		if !strings.Contains(r.Error.Message, "disconnected before answering") {
			t.Errorf("message = %q", r.Error.Message)
		}
		// The host had the call: it may have run (the retry engine flags it).
		if d, ok := protocol.NoBackend(r.Error); !ok || !d.Delivered {
			t.Errorf("data %s: want delivered true", r.Error.Data)
		}
		if st := tb.srv.Table().Stats(); st.Timeouts != 0 || st.InFlight != 0 {
			t.Errorf("stats = %+v: a host disconnect is not a timeout", st)
		}
	})
}

func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{Timeout: 300 * time.Millisecond})
		w := tb.dial(t, protocol.PathWidget, nil)
		sess := hello(t, w).Session

		post := func(body string) (int, string) {
			resp, err := tb.hc.Post(tb.url+"/api/v1/sessions/"+sess+"/events", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		// Answered: the widget's answer is the HTTP response.
		type result struct {
			code int
			body string
		}
		done := make(chan result, 1)
		go func() {
			code, body := post(`{"eventType":"onclicktoact","eventData":{"value":"+358401234567","name":"mobilephone","format":"phone","entityLogicalName":"contact"}}`)
			done <- result{code, body}
		}()
		ev := w.recvReply()
		if ev.Method != "cif.onclicktoact" || !strings.Contains(string(ev.Params), `"eventData":{"value":"+358401234567"`) {
			t.Fatalf("event request = %+v", ev)
		}
		w.send(string(protocol.AppendResponse(nil, ev.ID, json.RawMessage(`{"handled":true}`), nil)))
		got := <-done
		if got.code != 200 || !strings.Contains(got.body, `"handled": true`) {
			t.Fatalf("event answer = %d %s", got.code, got.body)
		}
		// Not answered: the CIF timeout, as HTTP 504 with -32000.
		go func() {
			code, body := post(`{"eventType":"onmodechanged","eventData":1}`)
			done <- result{code, body}
		}()
		ev = w.recvReply()
		if ev.Method != "cif.onmodechanged" {
			t.Fatalf("event = %+v", ev)
		}
		got = <-done
		if got.code != http.StatusGatewayTimeout || !strings.Contains(got.body, protocol.TimeoutMessage) {
			t.Fatalf("unanswered event = %d %s", got.code, got.body)
		}
		// The widget's late answer is matched to nothing and does not break the connection.
		w.send(string(protocol.AppendResponse(nil, ev.ID, json.RawMessage(`true`), nil)))
		okResult(t, w.call(protocol.MethodGetMode, nil), nil)
		// Unknown session and bad body.
		resp, err := tb.hc.Post(tb.url+"/api/v1/sessions/nosuch/events", "application/json", strings.NewReader(`{"eventType":"onclicktoact"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // an unread, unclosed body keeps the connection (and its reader) alive
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown session: %d", resp.StatusCode)
		}
		if code, _ := post(`{"eventType":`); code != http.StatusBadRequest {
			t.Errorf("bad body: %d", code)
		}
	})
}

func TestHostRaisesEvent(t *testing.T) {
	tb := startBridge(t, bridge.Config{HostBackend: true})
	w := tb.dial(t, protocol.PathWidget, nil)
	sess := hello(t, w).Session
	h := startHost(t, tb, "*")
	done := make(chan error, 1)
	var answer json.RawMessage
	go func() {
		done <- h.conn.Call(context.Background(), protocol.MethodHostRaiseEvent,
			map[string]any{"session": sess, "eventType": "onclicktoact", "eventData": map[string]string{"value": "123"}}, &answer)
	}()
	ev := w.recvReply()
	w.send(string(protocol.AppendResponse(nil, ev.ID, json.RawMessage(`"ok"`), nil)))
	if err := <-done; err != nil || string(answer) != `"ok"` {
		t.Fatalf("raiseEvent = %s, %v", answer, err)
	}
	var rpcErr *jsonrpc2.Error
	err := h.conn.Call(context.Background(), protocol.MethodHostRaiseEvent, map[string]any{"session": "nosuch", "eventType": "x"}, &answer)
	if !errors.As(err, &rpcErr) || rpcErr.Code != protocol.CodeNoBackend {
		t.Errorf("raiseEvent to unknown session: %v", err)
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
			var st struct{ Hosts int }
			if tb.httpJSON(t, http.MethodGet, "/readyz", nil, &st); st.Hosts != 1 {
				t.Fatalf("%d host registrations for one connection", st.Hosts)
			}
			h.ws.Close(websocket.StatusNormalClosure, "")
			waitFor(t, func() bool {
				var st struct{ Hosts int }
				tb.httpJSON(t, http.MethodGet, "/readyz", nil, &st)
				return st.Hosts == 0
			})
		}
	})
}

// A host peer gets every call's params as one valid JSON object whose only
// "session" is the bridge's; a widget cannot name another session.
func TestHostParamsAreBuiltAsObjects(t *testing.T) {
	tb := startBridge(t, bridge.Config{HostBackend: true})
	host := tb.dial(t, protocol.PathHost, nil)
	host.send(`{"jsonrpc":"2.0","id":1,"method":"host.hello","params":{"sessions":"*"}}`)
	okResult(t, host.recvReply(), nil)

	w := tb.dial(t, protocol.PathWidget, nil)
	h := hello(t, w)

	tests := []struct {
		name   string
		params string
		code   int64 // 0: reaches the host
	}{
		{name: "empty object with a space", params: `{ }`},
		{name: "empty object with newlines", params: "{\n}"},
		{name: "no params", params: ``},
		{name: "members", params: ` {"a":1, "b":[2]} `},
		{name: "widget names a session", params: `{"session":"sOTHER"}`, code: protocol.CodeInvalidParams},
		{name: "widget names a session in another case", params: `{"a":1,"Session":"sOTHER"}`, code: protocol.CodeInvalidParams},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := 100 + i
			msg := `{"jsonrpc":"2.0","id":` + itoa(id) + `,"method":"cif.getenvironment"`
			if tt.params != "" {
				msg += `,"params":` + tt.params
			}
			w.send(msg + `}`)
			if tt.code != 0 {
				r := w.recvReply()
				wantCode(t, r, tt.code)
				if !strings.Contains(r.Error.Message, "session") {
					t.Fatalf("message does not say what to fix: %q", r.Error.Message)
				}
				return
			}
			raw := host.recv()
			var req struct {
				ID     json.RawMessage
				Params json.RawMessage
			}
			if err := json.Unmarshal([]byte(raw), &req); err != nil {
				t.Fatalf("host got invalid JSON %s: %v", raw, err)
			}
			var p map[string]json.RawMessage
			if err := json.Unmarshal(req.Params, &p); err != nil {
				t.Fatalf("params %s: %v", req.Params, err)
			}
			if string(p["session"]) != `"`+h.Session+`"` {
				t.Fatalf("session member %s, want %q", p["session"], h.Session)
			}
			if n := strings.Count(string(req.Params), `"session"`); n != 1 {
				t.Fatalf("params %s carry %d session members", req.Params, n)
			}
			host.send(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{}}`)
			okResult(t, w.recvReply(), nil)
		})
	}
}
