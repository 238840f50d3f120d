package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// FuzzExecute: whatever params a widget sends to a cif.* call (or
// xrm.execute), the emulator's decoders never panic; it answers with a
// result that is JSON or a JSON-RPC error with a message.
func FuzzExecute(f *testing.F) {
	for _, s := range []string{
		`{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen"}}`,
		`{"entityName":"contact","entityId":"9b2f6a1e-4c1d-4f7e-9a7b-2d3c4e5f6a7b","queryParameters":"?$select=fullname&$expand=parentcustomerid_account($select=name)"}`,
		`{"entityName":"contact","queryParameters":"?$filter=startswith(lastname,'Vir') and statecode eq 0&$top=3","searchOnly":true}`,
		`{"value":2}`, `{"value":"x"}`, `{"entityName":"nope"}`, `{}`,
		`{"data":{"@odata.type":"Microsoft.Dynamics.CRM.contact","lastname":"x"},"metaData":{"operationType":2,"operationName":"Create"}}`,
	} {
		f.Add([]byte(s))
	}
	emu := newEmulator(f, emulator.Config{MaxRecords: 200})
	methods := []string{protocol.BackendExecute}
	for _, m := range protocol.WidgetMethods {
		if protocol.MessageType(m) != "" {
			methods = append(methods, m)
		}
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		if !json.Valid(params) {
			return // params reach a backend as a member of a decoded message
		}
		for _, m := range methods {
			res, err := emu.Execute(context.Background(), &correlation.Attempt{Session: "fuzz", ID: "a", Method: m, Params: params})
			if err != nil {
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Message == "" {
					t.Fatalf("%s %q: error %v (%T) is no JSON-RPC error", m, params, err, err)
				}
				continue
			}
			if len(res) > 0 && !json.Valid(res) {
				t.Fatalf("%s %q: result %q is not JSON", m, params, res)
			}
		}
	})
}
