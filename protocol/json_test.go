package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

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

// On valid JSON, ValidMembers lists the members ScanFlatObject lists, in
// the same order, the same bytes, and Text gives a string's content exactly
// when it is plain: no escape and valid UTF-8, the strings StringBytes
// returns as a slice of the literal. On anything else it ends without a
// panic.
func FuzzValidMembers(f *testing.F) {
	for _, s := range []string{
		`{"firstname":"Aino","lastname":"Virtanen","telephone1":"+358401234567","statecode":1,"x":true,"y":null}`,
		`{"a":"x","b":1.50,"c":true,"d":null,"e":{"x":"}"},"f":[1,"]"]}`, `{"a":1,"a":{"b":2}}`, `{}`, ` { } `,
		`{"\u00e9":"\ud800"}`, "{\"a\":\"\xff\xfe\"}", "{\"\xc3\xa9t\xc3\xa9\":\"\xe2\x82\xac\"}", `{"a\"b":"c\\d"}`,
		`{"a":"\"","b":"\\"}`, `{"a@odata.bind":"/contacts(1)"}`, `{} x`, `[]`, `null`, `{"a":1,}`, `{"a"`, `{"a":"`,
		// Longer than a word, a stop byte at each place of the second one.
		`{"emailaddress1":"aino.virtanen@example.com","long name, eight+":"0123456\"89abcdef"}`,
		`{"abcdefghij":"0123456789\\abcdef","k":"01234567\u00e9xyz","l":"0123456789abcde\n"}`,
		"{\"abcdefghijklmnop\":\"01234567\xc3\xa9abcdefgh\xff\",\"q\":\"\xe2\x82\xac0123456789\\\"\"}",
		`{"nested":{"0123456789":"]}\"{[","x":[1,"0123456789\\"]},"after":"0123456789"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type member struct{ name, value, text string }
		var got []member
		var texts []bool
		m := protocol.ValidMembers(data)
		for mem, ok := m.Next(); ok; mem, ok = m.Next() {
			got = append(got, member{string(mem.Name), string(mem.Value), string(mem.Text)})
			texts = append(texts, mem.Plain)
		}
		if _, ok := referenceFlat(data); !ok || !json.Valid(data) {
			return
		}
		if err := m.Err(); err != nil {
			t.Fatalf("%q: ValidMembers stopped: %v", data, err)
		}
		var want []member
		if err := protocol.ScanFlatObject(data, func(name []byte, v jsontext.Value) error {
			want = append(want, member{string(name), string(v), ""})
			return nil
		}); err != nil {
			t.Fatalf("%q: ScanFlatObject: %v", data, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, ScanFlatObject %d", data, len(got), len(want))
		}
		for i, g := range got {
			w := want[i]
			if g.name != w.name || g.value != w.value {
				t.Fatalf("%q: member %d = %q:%q, ScanFlatObject %q:%q", data, i, g.name, g.value, w.name, w.value)
			}
			v := jsontext.Value(g.value)
			plain := v.Kind() == '"' && !strings.Contains(g.value, `\`) && utf8.ValidString(g.value[1:len(g.value)-1])
			if texts[i] != plain {
				t.Fatalf("%q: member %q: Text ok=%v, want %v", data, g.name, texts[i], plain)
			}
			if plain {
				s, err := protocol.StringBytes(v)
				if err != nil || string(s) != g.text {
					t.Fatalf("%q: member %q: Text %q, StringBytes %q (%v)", data, g.name, g.text, s, err)
				}
			}
		}
	})
}
