package bridge

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

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
