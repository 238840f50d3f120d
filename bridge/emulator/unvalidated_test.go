package emulator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// The create path trusts a record body to be valid JSON only where a
// validating decoder read it first (see Emulator.writeBody). A body that
// came any other way, unvalidated, still gets its error and stores
// nothing: params without the bridge's typed decode, an xrm.execute
// payload, a string holding the object, a Web API POST, a seed.
func TestUnvalidatedBodiesGetTheirError(t *testing.T) {
	e := newSeeded(t)
	for _, tc := range []struct{ name, method, params string }{
		{"a trailing comma", protocol.MethodCreateRecord, `{"entityName":"contact","value":{"lastname":"Bad",}}`},
		{"a missing comma", protocol.MethodCreateRecord, `{"entityName":"contact","value":{"lastname":"Bad" "firstname":"x"}}`},
		{"an unclosed string", protocol.MethodCreateRecord, `{"entityName":"contact","value":{"lastname":"Bad}}`},
		{"a string holding a broken object", protocol.MethodCreateRecord, `{"entityName":"contact","value":"{\"lastname\":\"Bad\",}"}`},
		{"an update", protocol.MethodUpdateRecord, `{"entityName":"contact","entityId":"` + adaID + `","value":{"lastname":"Bad",}}`},
		{"an xrm.execute payload", protocol.BackendExecute, `{"data":{"etn":"contact","payload":{"lastname":"Bad",}},"metaData":{"operationType":2,"operationName":"Create"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(e, tc.method, tc.params)
			checkErr(t, err, &wantErr{rpc: protocol.CodeInvalidParams})
		})
	}
	srv := newWebServer(t, e)
	for _, body := range []string{`{"lastname":"Bad",}`, `{"lastname":"Bad"`, `{"lastname":"Bad"} {}`, `{"lastname":"Bad\x"}`} {
		if r := do(t, srv, http.MethodPost, emulator.WebAPIPrefix+"contacts", body); r.status != http.StatusBadRequest || errCode(r) == "" {
			t.Errorf("POST %s: %d %v, want 400 with an error code", body, r.status, r.body)
		}
	}
	res, err := call(e, protocol.MethodSearch, `{"entityName":"contact","queryParameters":"?$filter=lastname eq 'Bad'"}`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res), "Bad") {
		t.Errorf("a refused body was stored: %s", res)
	}
	if _, err := emulator.New(emulator.Config{Seed: []byte(`{"contact":[{"lastname":"Bad",}]}`)}); err == nil {
		t.Error("a seed with a broken record loaded")
	}
}
