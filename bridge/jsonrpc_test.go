package bridge_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestJSONRPCConformance checks the spec edge cases byte for byte.
func TestJSONRPCConformance(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	tests := []struct {
		name string
		send string
		want string // exact reply; "" = no reply expected
		code int64  // when want is empty and a reply is expected: its error code
		id   string // and its raw id
	}{
		{name: "parse error", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":1`,
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: the message is not valid JSON"}}`},
		{name: "not an object", send: `42`, code: protocol.CodeInvalidRequest, id: "null"},
		{name: "wrong version", send: `{"jsonrpc":"1.0","method":"cif.getmode","id":7}`, code: protocol.CodeInvalidRequest, id: "7"},
		{name: "method not a string", send: `{"jsonrpc":"2.0","method":5,"id":"m"}`, code: protocol.CodeInvalidRequest, id: `"m"`},
		{name: "id is an object", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":{}}`, code: protocol.CodeInvalidRequest, id: "null"},
		{name: "empty batch", send: `[]`, code: protocol.CodeInvalidRequest, id: "null"},
		{name: "unknown method", send: `{"jsonrpc":"2.0","method":"nope","id":3}`, code: protocol.CodeMethodNotFound, id: "3"},
		{name: "unknown cif method", send: `{"jsonrpc":"2.0","method":"cif.nope","id":4}`, code: protocol.CodeMethodNotFound, id: "4"},
		{name: "params not object", send: `{"jsonrpc":"2.0","method":"cif.createrecord","params":["contact"],"id":5}`, code: protocol.CodeInvalidParams, id: "5"},
		{name: "id -1 round-trips", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":-1}`, want: `{"jsonrpc":"2.0","id":-1,"result":1}`},
		{name: "string id round-trips", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":"x"}`, want: `{"jsonrpc":"2.0","id":"x","result":1}`},
		{name: "id beyond 2^53 round-trips", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":9007199254740993}`, want: `{"jsonrpc":"2.0","id":9007199254740993,"result":1}`},
		{name: "html in string id kept byte-exact", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":"<a&b>"}`, want: `{"jsonrpc":"2.0","id":"<a&b>","result":1}`},
		{name: "null id answered", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":null}`, want: `{"jsonrpc":"2.0","id":null,"result":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.send)
			got := c.recv()
			if tt.want != "" {
				if got != tt.want {
					t.Fatalf("got  %s\nwant %s", got, tt.want)
				}
				return
			}
			var r reply
			if err := json.Unmarshal([]byte(got), &r); err != nil {
				t.Fatalf("bad reply %s", got)
			}
			wantCode(t, r, tt.code)
			if string(r.ID) != tt.id {
				t.Errorf("id = %s, want %s", r.ID, tt.id)
			}
			if !strings.Contains(got, `"jsonrpc":"2.0"`) {
				t.Errorf("reply lacks jsonrpc 2.0: %s", got)
			}
		})
	}
	// The connection survived every bad message.
	c.t = t
	okResult(t, c.call(protocol.MethodGetMode, nil), nil)
}

// Notifications, one by one or in a batch, are served and never answered.
// In a synctest bubble, synctest.Wait lets their handlers finish (they run
// concurrently), so the next message must be the answer to the next call.
func TestNotificationGetsNoReply(t *testing.T) {
	for _, tt := range []struct{ name, send, method, want string }{
		{"single", `{"jsonrpc":"2.0","method":"cif.setmode","params":{"value":0}}`, protocol.MethodGetMode, "0"},
		{"unknown method", `{"jsonrpc":"2.0","method":"nope"}`, protocol.MethodGetMode, "1"},
		{"batch of notifications", `[{"jsonrpc":"2.0","method":"cif.setwidth","params":{"value":500}},{"jsonrpc":"2.0","method":"cif.setmode","params":{"value":2}}]`,
			protocol.MethodGetWidth, "500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, ws := inBubble(t, nil)
				ws.send(tt.send)
				synctest.Wait()
				ws.send(`{"jsonrpc":"2.0","id":"next","method":"` + tt.method + `"}`)
				r := ws.recvReply()
				if string(r.ID) != `"next"` || string(r.Result) != tt.want {
					t.Fatalf("first message after the notification = %+v; want the answer %s to %s", r, tt.want, tt.method)
				}
			})
		})
	}
}

func TestBatch(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send(`[
		{"jsonrpc":"2.0","method":"cif.getmode","id":"a"},
		{"jsonrpc":"2.0","method":"cif.setwidth","params":{"value":400}},
		{"jsonrpc":"2.0","method":"nope","id":-2},
		{"foo":"bar"},
		{"jsonrpc":"2.0","method":"cif.getwidth","id":9007199254740993}
	]`)
	raw := c.recv()
	var got []reply
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("batch reply is not an array: %s", raw)
	}
	if len(got) != 4 {
		t.Fatalf("got %d answers, want 4 (the notification gets none): %s", len(got), raw)
	}
	byID := map[string]reply{}
	for _, r := range got {
		byID[string(r.ID)] = r
	}
	if string(byID[`"a"`].Result) != "1" {
		t.Errorf("getmode in batch: %s", raw)
	}
	wantCode(t, byID["-2"], protocol.CodeMethodNotFound)
	wantCode(t, byID["null"], protocol.CodeInvalidRequest)
	if !strings.Contains(raw, `"id":9007199254740993`) {
		t.Errorf("big id not byte-exact: %s", raw)
	}
}

// TestMemberNamesExact: JSON-RPC member names match exactly and once
// (issue 13 item 11); such messages are refused -32600, not executed.
func TestMemberNamesExact(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	okResult(t, c.call(protocol.MethodSetMode, map[string]any{"value": 1}), nil)
	for _, msg := range []string{
		`{"JSONRPC":"2.0","ID":1,"METHOD":"cif.setmode","PARAMS":{"value":0}}`,
		`{"jsonrpc":"2.0","id":2,"method":"cif.getmode","Method":"cif.setmode","params":{"value":0}}`,
		`{"jsonrpc":"2.0","id":3,"method":"cif.getmode","method":"cif.setmode","params":{"value":0}}`,
	} {
		c.send(msg)
		r := c.recvReply()
		wantCode(t, r, protocol.CodeInvalidRequest)
	}
	if r := c.call(protocol.MethodGetMode, nil); string(r.Result) != "1" {
		t.Fatalf("mode %s: a refused message was executed", r.Result)
	}
}
