package protocol_test

import (
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// TestDecodeValidParamsEdgeCases: on the params of frames Decode accepts
// (or the params alone, valid JSON, when Decode refuses the frame),
// including what FuzzDecodeValidParams leaves out (invalid UTF-8, which
// Decode lets through and encoding/json's Valid does not), DecodeValidParams
// gives exactly what DecodeParamsAliased gives, error or value, and a raw
// member that ends where its text ends (appending to it copies).
func TestDecodeValidParamsEdgeCases(t *testing.T) {
	for _, params := range []string{
		// Names: escapes, case, duplicates spelled two ways, empty, unknown.
		`{"entityName":"contact","value":{}}`, `{"entity\u004eame":"contact","value":{}}`,
		`{"entityName":"a","entity\u004eame":"b"}`, `{"entity\u004eame":"a","entityName":"b"}`,
		`{"ENTITYNAME":"contact"}`, `{"entityname":"a","entityName":"b"}`, `{"":1}`, `{"entityName":"a","x":1}`,
		`{"entityName":"a","entityId":"b","entityId":"c"}`, `{"value":{},"value":"x"}`,
		// String members: escapes, \u0000, UTF-8, invalid UTF-8, controls
		// escaped, empty, long, other kinds.
		`{"entityName":"c\u006fntact"}`, `{"entityName":"a\u0000b"}`, `{"entityName":"é€😀"}`,
		"{\"entityName\":\"\xff\xfe\"}", "{\"entityName\":\"a\xc3\"}", `{"entityName":"\ud83d\ude00"}`, `{"entityName":"\udc00"}`,
		`{"entityName":""}`, `{"entityName":"` + strings.Repeat("x", 33) + `"}`, `{"entityName":"` + strings.Repeat("é", 20) + `"}`,
		`{"entityName":1}`, `{"entityName":-0}`, `{"entityName":1e400}`, `{"entityName":true}`, `{"entityName":null}`,
		`{"entityName":[]}`, `{"entityName":{}}`,
		// Raw members: objects, strings, invalid UTF-8 inside, other kinds.
		`{"value":{"a":"\u0000","b":[1,{"c":null}]}}`, `{"value":"{\"a\":1}"}`, "{\"value\":{\"\xff\":\"\xfe\"}}",
		"{\"value\":\"\xff\"}", `{"value":null}`, `{"value":[]}`, `{"value":1}`, `{"value":-0}`, `{"value":false}`,
		`{"value":{"a":1,"a":2}}`,
		// Every member of each type; whitespace everywhere.
		`{"entityName":"contact","entityId":"1","queryParameters":"?$select=a","value":{}}`,
		" { \"entityName\" : \"contact\" , \"value\" : { \"a\" : 1 } } ",
		"{\t\"entityName\"\r\n:\"contact\"}",
		// Not objects.
		`null`, `[]`, `"x"`, `1`, `true`,
	} {
		frame := []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":` + params + `}`)
		raw := []byte(params) // valid JSON, whose frame Decode refuses (a duplicate name, params not a container)
		if d := protocol.Decode(frame); d.ParseError == nil && len(d.Messages) == 1 && d.Messages[0].Error == nil {
			raw = d.Messages[0].Params
		}
		decodeValidAsAliased(t, raw, []byte(params), func(want, got any) {
			var g, w []byte
			switch p := got.(type) {
			case *protocol.CreateRecordParams:
				g, w = p.Value, want.(*protocol.CreateRecordParams).Value
			case *protocol.UpdateRecordParams:
				g, w = p.Value, want.(*protocol.UpdateRecordParams).Value
			}
			if cap(g)-len(g) != cap(w)-len(w) {
				t.Errorf("%T of %q: Value has %d bytes of spare capacity, the validating decoder's %d", got, params, cap(g)-len(g), cap(w)-len(w))
			}
		})
	}
}
