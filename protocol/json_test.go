package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/cifbridge/cifbridge/protocol"
)

func TestDecodeParamsMessages(t *testing.T) {
	for _, tc := range []struct {
		name, params string
		v            any
		want         string // "" = accepted
	}{
		{"ok", `{"entityName":"contact","value":{"a":1}}`, &protocol.CreateRecordParams{}, ""},
		{"null is empty", `null`, &protocol.CreateRecordParams{}, ""},
		{"names match case-insensitively, as encoding/json did", `{"EntityName":"contact"}`, &protocol.CreateRecordParams{}, ""},
		{"duplicate names: the last wins", `{"entityName":"a","entityName":"contact"}`, &protocol.CreateRecordParams{}, ""},
		{"unknown member", `{"entityName":"contact","bogus":1}`, &protocol.CreateRecordParams{}, `unknown field "bogus"`},
		{"wrong type", `{"entityName":7}`, &protocol.CreateRecordParams{}, `"entityName" must be a JSON string, got number`},
		{"wrong type, boolean", `{"entityLogicalName":"contact","data":{},"idempotent":"yes"}`, &protocol.XrmCreateParams{}, `"idempotent" must be a JSON boolean, got string`},
		{"wrong type, number", `{"entityLogicalName":"contact","data":{},"maxRetries":true}`, &protocol.XrmCreateParams{}, `"maxRetries" must be a JSON number, got boolean`},
		{"not JSON", `{"entityName":`, &protocol.CreateRecordParams{}, `params are not valid JSON`},
		{"not an object", `[1]`, &protocol.CreateRecordParams{}, `params must be a JSON object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := protocol.DecodeParams(json.RawMessage(tc.params), tc.v)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidParams || !strings.Contains(pe.Message, tc.want) {
				t.Fatalf("got %v, want -32602 containing %q", err, tc.want)
			}
		})
	}
	var p protocol.CreateRecordParams
	if err := protocol.DecodeParams(json.RawMessage(`{"entityName":"a","entityName":"contact"}`), &p); err != nil || p.EntityName != "contact" {
		t.Fatalf("duplicate names: got %q, %v", p.EntityName, err)
	}
}

// referenceFlat is what the emulator did before ScanFlatObject:
// encoding/json with UseNumber, nothing but whitespace after the object.
func referenceFlat(data []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// deep stands for an object or array member in FuzzScanFlatObject.
type deep struct{}

// The members ScanFlatObject reports, the last of each name kept, are the
// members encoding/json v1 decodes.
func FuzzScanFlatObject(f *testing.F) {
	for _, s := range []string{
		`{"a":"x","b":1.50,"c":true,"d":null,"e":{"x":1},"f":[1]}`, `{"a":1,"a":{"b":2}}`, `{"a":{},"a":2}`,
		`{"\u00e9":"\ud800"}`, "{\"a\":\"\xff\xfe\"}", `{"n":-0.0e+10}`, `{} x`, `[]`, `null`, `{"a":1,}`, ` {"a" : 1 } `,
		`{"a\"b":"c\\d"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, ok := referenceFlat(data)
		got := map[string]any{}
		err := protocol.ScanFlatObject(data, flatMembers(got))
		if (err == nil) != ok {
			t.Fatalf("%q: error %v, reference ok=%v", data, err, ok)
		}
		// ScanValidFlatObject ends on any input without a panic; on valid
		// JSON (the only input it is given) it reports the members
		// ScanFlatObject reports, in the same order, the same bytes.
		var seq, trusted []string
		protocol.ScanFlatObject(data, func(name []byte, v jsontext.Value) error {
			seq = append(seq, string(name), string(v))
			return nil
		})
		terr := protocol.ScanValidFlatObject(data, func(name []byte, v jsontext.Value) error {
			trusted = append(trusted, string(name), string(v))
			return nil
		})
		if !ok {
			return
		}
		if terr != nil || !slices.Equal(trusted, seq) {
			t.Fatalf("%q: ScanValidFlatObject = %v, %q; ScanFlatObject %q", data, terr, trusted, seq)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, reference has %d", data, len(got), len(want))
		}
		for k, v := range want {
			switch v.(type) {
			case map[string]any, []any:
				v = deep{}
			}
			if g, ok := got[k]; !ok || g != v {
				t.Fatalf("%q: member %q = %#v, reference %#v", data, k, g, v)
			}
		}
	})
}

// flatMembers collects a flat scan's members into got, the last of each
// name kept, nested values as deep{}.
func flatMembers(got map[string]any) func(name []byte, v jsontext.Value) error {
	return func(name []byte, v jsontext.Value) error {
		switch v.Kind() {
		case '{', '[':
			got[string(name)] = deep{}
		case '"':
			s, err := protocol.StringBytes(v)
			if err != nil {
				return err
			}
			got[string(name)] = string(s)
		case '0':
			got[string(name)] = json.Number(v)
		case 't', 'f':
			got[string(name)] = v.Kind() == 't'
		default:
			got[string(name)] = nil
		}
		return nil
	}
}
