package bridge

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// withSession always gives the host peer a JSON object whose "session" is
// the widget's session, and refuses params that name a session themselves.
func TestWithSession(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{``, `{"session":"s1"}`},
		{`{}`, `{"session":"s1"}`},
		{` { } `, `{"session":"s1"}`},
		{`{"a":1}`, `{"session":"s1","a":1}`},
		{`{ "a" : [1, {"b":2}] }`, `{"session":"s1","a":[1,{"b":2}]}`},
		{`{"session":"other","a":1}`, ``},
		{`{"Session":"other"}`, ``},
		{`{"x":{"session":"nested"}}`, `{"session":"s1","x":{"session":"nested"}}`},
	} {
		got, err := withSession(json.RawMessage(tt.in), "s1")
		if tt.want == "" {
			if err == nil {
				t.Errorf("withSession(%s) = %s, want it refused", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("withSession(%s): %v", tt.in, err)
			continue
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Errorf("withSession(%s) = %s: not JSON: %v", tt.in, got, err)
			continue
		}
		json.Unmarshal([]byte(tt.want), &w)
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("withSession(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzValidateCIF: the params check of every cif.* call never panics;
// a refusal is -32602 (or -32601 for an unknown method) with a message,
// and accepted params go on to the backend as a JSON object.
func FuzzValidateCIF(f *testing.F) {
	for _, s := range []string{
		`{"entityName":"contact","value":{"firstname":"Aino"}}`, `{"entityName":"contact","value":"{\"a\":1}"}`,
		`{"entityName":"contact","entityId":"x","value":{}}`, `{"entityName":" ","entityId":"x"}`,
		`{"value":true}`, `{"value":null}`, `{}`, `null`, `[]`, `{"entityName":"contact","queryParameters":"?$top=1","searchOnly":true}`,
		`{"entityName":"contact","value":"not an object"}`, `{"x":1}`,
	} {
		f.Add(protocol.MethodCreateRecord, []byte(s))
	}
	methods := append([]string{"cif.createSession", "cif.nope"}, protocol.WidgetMethods...)
	f.Fuzz(func(t *testing.T, method string, params []byte) {
		if len(params) > 0 && !json.Valid(params) {
			return // params reach validateCIF as a member of a decoded message
		}
		for _, m := range append(methods, method) {
			if len(m) < 4 || m[:4] != protocol.CIFPrefix {
				continue
			}
			out, _, err := validateCIF(m, params)
			checkValidateRequest(t, m, params)
			if err != nil {
				var pe *protocol.Error
				if !errors.As(err, &pe) || (pe.Code != protocol.CodeInvalidParams && pe.Code != protocol.CodeMethodNotFound) || pe.Message == "" {
					t.Fatalf("%s refused %q with %v", m, params, err)
				}
				continue
			}
			if len(out) > 0 && (out[0] != '{' || !json.Valid(out)) {
				t.Fatalf("%s accepted %q as %q", m, params, out)
			}
		}
	})
}

// checkValidateRequest: a request frame carrying params, decoded, gets from
// validateRequest exactly what validateCIF gives for the message's method
// and params (out, typed, err).
func checkValidateRequest(t *testing.T, method string, params json.RawMessage) {
	t.Helper()
	methodJSON, _ := json.Marshal(method)
	frame := []byte(`{"jsonrpc":"2.0","id":1,"method":` + string(methodJSON))
	if len(params) > 0 {
		frame = append(append(frame, `,"params":`...), params...)
	}
	d := protocol.Decode(append(frame, '}'))
	if d.ParseError != nil || len(d.Messages) != 1 || d.Messages[0].Kind != protocol.KindRequest {
		return
	}
	m := &d.Messages[0]
	out, typed, err := validateCIF(m.Method, m.Params)
	gotOut, gotTyped, gotErr := validateRequest(m)
	if (err == nil) != (gotErr == nil) || err != nil && err.Error() != gotErr.Error() ||
		string(gotOut) != string(out) || !reflect.DeepEqual(gotTyped, typed) {
		t.Fatalf("%s %q: validateRequest = %q, %+v, %v; validateCIF = %q, %+v, %v", m.Method, m.Params, gotOut, gotTyped, gotErr, out, typed, err)
	}
}
