package emulator_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestXrmExecuteBound: an action or function executed directly with
// boundParameter "entity" takes its target from data.entity, as the Web API
// face's <set>(<id>)/Microsoft.Dynamics.CRM.<name> does: the record must
// exist, the id be a GUID, the operation be declared; without an id it is
// bound to the collection.
func TestXrmExecuteBound(t *testing.T) {
	e := newSeeded(t)
	const missingID = "88888888-8888-4888-8888-888888888888"
	ada := map[string]any{"entityType": "contact", "id": adaID}
	tests := []struct {
		name    string
		bound   any // metaData.boundParameter
		opType  int
		op      string
		data    any
		want    string
		wantErr *wantErr
	}{
		{name: "action on a record", bound: "entity", op: "new_Ping", data: map[string]any{"entity": ada, "Text": "hi"}, want: `{"pong": true}`},
		{name: "function on a record", bound: "entity", opType: 1, op: "new_GetQueueLength", data: map[string]any{"entity": ada, "Queue": "support"}, want: `{"length": 3}`},
		{name: "namespace-qualified name", bound: "entity", op: "Microsoft.Dynamics.CRM.new_Ping", data: map[string]any{"entity": ada}, want: `{"pong": true}`},
		{name: "bound to the collection", bound: "entity", op: "new_Fire", data: map[string]any{"entity": map[string]any{"entityType": "contact"}}, want: `null`},
		{name: "another parameter name", bound: "target", op: "new_Ping", data: map[string]any{"target": ada}, want: `{"pong": true}`},
		{name: "unbound (null) ignores data.entity", bound: nil, op: "new_Ping", data: map[string]any{"entity": map[string]any{"entityType": "contact", "id": missingID}}, want: `{"pong": true}`},
		{name: "record does not exist", bound: "entity", op: "new_Ping", data: map[string]any{"entity": map[string]any{"entityType": "contact", "id": missingID}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: http.StatusNotFound, code: emulator.CodeRecordNotFound, msg: "contact With Id = " + missingID + " Does Not Exist"}},
		{name: "unknown operation", bound: "entity", op: "new_Missing", data: map[string]any{"entity": ada},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: http.StatusNotFound, code: emulator.CodeSegmentNotFound, msg: "Resource not found for the segment 'Microsoft.Dynamics.CRM.new_Missing'."}},
		{name: "WhoAmI is not bound", bound: "entity", opType: 1, op: "WhoAmI", data: map[string]any{"entity": ada},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: http.StatusNotFound, code: emulator.CodeSegmentNotFound}},
		{name: "wrong kind", bound: "entity", opType: 1, op: "new_Ping", data: map[string]any{"entity": ada},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: http.StatusBadRequest, code: emulator.CodeQuerySyntax}},
		{name: "unknown entity", bound: "entity", op: "new_Ping", data: map[string]any{"entity": map[string]any{"entityType": "nosuch", "id": adaID}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: http.StatusNotFound, code: emulator.CodeSegmentNotFound}},
		{name: "id not a GUID", bound: "entity", op: "new_Ping", data: map[string]any{"entity": map[string]any{"entityType": "contact", "id": "not-a-guid"}},
			wantErr: &wantErr{rpc: protocol.CodeInvalidParams, msg: "data.entity.id"}},
		{name: "no target", bound: "entity", op: "new_Ping", data: map[string]any{"Text": "no target"}, wantErr: &wantErr{rpc: protocol.CodeInvalidParams, msg: "data.entity"}},
		{name: "target without entityType", bound: "entity", op: "new_Ping", data: map[string]any{"entity": map[string]any{"id": adaID}}, wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
		{name: "no data", bound: "entity", op: "new_Ping", wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(e, protocol.BackendExecute, map[string]any{"data": tt.data,
				"metaData": map[string]any{"boundParameter": tt.bound, "operationType": tt.opType, "operationName": tt.op}})
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == nil && string(res) != tt.want {
				t.Fatalf("got %s, want %s", res, tt.want)
			}
		})
	}
}

// TestXrmExecuteBoundFaults: a bound operation is an operation on its
// target's entity, so entity-scoped fault rules apply to it.
func TestXrmExecuteBoundFaults(t *testing.T) {
	e := newSeeded(t)
	if err := e.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "execute", Entity: "contact",
		Error: &protocol.FaultError{Status: http.StatusServiceUnavailable, Code: "0x80072322", Message: "busy"}}}}); err != nil {
		t.Fatal(err)
	}
	exec := func(bound map[string]any) (json.RawMessage, error) {
		return call(e, protocol.BackendExecute, map[string]any{"data": map[string]any{"entity": bound},
			"metaData": map[string]any{"boundParameter": "entity", "operationType": 0, "operationName": "new_Ping"}})
	}
	_, err := exec(map[string]any{"entityType": "contact", "id": adaID})
	checkErr(t, err, &wantErr{rpc: protocol.CodeBackend, status: http.StatusServiceUnavailable, code: "0x80072322"})
	res, err := exec(map[string]any{"entityType": "account"})
	checkErr(t, err, nil)
	if string(res) != `{"pong": true}` {
		t.Fatalf("bound to account: %s", res)
	}
}
