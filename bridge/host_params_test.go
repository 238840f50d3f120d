package bridge_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// A host peer gets every call's params as one valid JSON object whose only
// "session" is the bridge's; a widget cannot name another session.
func TestHostParamsAreBuiltAsObjects(t *testing.T) {
	tb := startBridge(t, bridge.Config{HostBackend: true})
	host := tb.dial(t, protocol.PathHost, nil)
	host.send(`{"jsonrpc":"2.0","id":1,"method":"host.hello","params":{"sessions":"*"}}`)
	okResult(t, host.recvReply(), nil)

	w := tb.dial(t, protocol.PathWidget, nil)
	var hello protocol.HelloResult
	okResult(t, w.call(protocol.MethodHello, map[string]any{}), &hello)

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
			if string(p["session"]) != `"`+hello.Session+`"` {
				t.Fatalf("session member %s, want %q", p["session"], hello.Session)
			}
			if n := strings.Count(string(req.Params), `"session"`); n != 1 {
				t.Fatalf("params %s carry %d session members", req.Params, n)
			}
			host.send(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{}}`)
			okResult(t, w.recvReply(), nil)
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
