package protocol_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// FuzzNormalizeInput: a CIF 2.0 "JSON input" member is either a JSON object
// (returned as such) or refused with -32602; never a panic, never a
// non-object.
func FuzzNormalizeInput(f *testing.F) {
	for _, s := range []string{`{"templateName":"x"}`, `"{\"a\":1}"`, `"[1]"`, `5`, `null`, ``, `"{"`, ` {} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) && len(raw) > 0 {
			return // the JSON-RPC decoder has refused it already
		}
		obj, err := protocol.NormalizeInput("input", raw)
		if err != nil {
			if !errors.Is(err, protocol.ErrInvalidParams) {
				t.Fatalf("error %v is not -32602", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(obj, &m) != nil {
			t.Fatalf("NormalizeInput(%q) = %q: not an object", raw, obj)
		}
	})
}
