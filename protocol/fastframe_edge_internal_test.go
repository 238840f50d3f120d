package protocol

import (
	"reflect"

	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// generalDecode is Decode without scanFrame: every object through the
// jsonv2 path, as Decode answered before the fast path existed.
func generalDecode(data []byte) Decoded {
	var d Decoded
	decode(&d, data, false)
	return d
}

// TestScanFrameEdgeCases: the inputs a byte scanner most easily gets wrong.
// For each, whether scanFrame takes it is pinned (fast), its spans are the
// general path's (checkScanFrame), and Decode answers exactly as the
// general path does, error included.
func TestScanFrameEdgeCases(t *testing.T) {
	nest := func(n int, open, close, inner string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	names := func(n int, prefix string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + prefix + string(rune('a'+i/26%26)) + string(rune('a'+i%26)) + `":1`)
		}
		return b.String()
	}
	const frame = `{"jsonrpc":"2.0","id":1,"method":"m","params":`
	for _, tc := range []struct {
		name, in string
		fast     bool // scanFrame takes it (else the general path answers)
	}{
		// UTF-8 above 0x7f inside strings (AllowInvalidUTF8: rpcconn checks
		// utf8.Valid before Decode) and outside them.
		{"utf8 in value", frame + `{"n":"é€😀"}}`, true},
		{"utf8 name", frame + `{"é":1,"e":2}}`, true},
		{"invalid utf8 in value", frame + "{\"n\":\"\xff\xc3\"}}", true},
		{"truncated utf8 in value", frame + "{\"n\":\"\xe2\x82\"}}", true},
		{"invalid utf8 name", frame + "{\"\xff\":1}}", false},
		{"utf8 outside strings", frame + "{\"n\":1\xc2\xa0}}", false},
		{"utf8 as value", frame + "\xc3\xa9}", false},
		// Control characters in strings.
		{"NUL byte in string", frame + "\"a\x00b\"}", false},
		{"0x1f in string", frame + "\"a\x1fb\"}", false},
		{"newline in string", frame + "\"a\nb\"}", false},
		{"DEL in string", frame + "\"a\x7fb\"}", true},
		{"escaped NUL", frame + `"a\u0000b"}`, true},
		{"escaped NUL in name", frame + `{"a\u0000":1}}`, false},
		{"escaped controls", frame + `"\u001f\b\f\n\r\t\/\"\\"}`, true},
		{"uppercase hex escape", frame + `"\u00E9\u00e9"}`, true},
		{"lone low surrogate", frame + `"\udc00"}`, false},
		{"surrogate pair", frame + `"\ud83d\ude00"}`, false},
		{"bad escape", frame + `"\a"}`, false},
		{"short unicode escape at end", frame + `"\u00"`, false},
		// Numbers.
		{"-0", frame + `-0}`, true},
		{"-0.0e-0", frame + `[-0.0e-0,0E+0,0e0]}`, true},
		{"1e400", frame + `1e400}`, true},
		{"huge mantissa", frame + `123456789012345678901234567890.5e-400}`, true},
		{"01", frame + `01}`, false},
		{"-01", frame + `-01}`, false},
		{"1.", frame + `1.}`, false},
		{"1.e5", frame + `1.e5}`, false},
		{"1e", frame + `1e}`, false},
		{"1e+", frame + `1e+}`, false},
		{"+1", frame + `+1}`, false},
		{".5", frame + `.5}`, false},
		{"--1", frame + `--1}`, false},
		{"number then letter", frame + `1x}`, false},
		{"hex", frame + `0x10}`, false},
		{"Infinity", frame + `Infinity}`, false},
		{"NaN", frame + `NaN}`, false},
		{"number in array then garbage", frame + `[1 2]}`, false},
		// Whitespace: only space, tab, LF and CR are JSON's.
		{"the four spaces", " \t\r\n{ \t\r\n\"id\" \t\r\n: \t\r\n1 \t\r\n, \"params\" : [ 1 , { \"a\" : 2 } ] } \t\r\n", true},
		{"form feed", "{\"id\":\f1}", false},
		{"vertical tab", "{\"id\":1\v}", false},
		{"NBSP", "{\"id\":\xc2\xa01}", false},
		{"line separator", "{\"id\":1\xe2\x80\xa8}", false},
		{"NUL between tokens", "{\"id\":1\x00}", false},
		{"trailing NUL", "{\"id\":1}\x00", false},
		{"trailing form feed", "{\"id\":1}\f", false},
		// BOM: not JSON's, before the frame; inside a string it is text.
		{"BOM before", "\xef\xbb\xbf{\"id\":1}", false},
		{"BOM in string", "{\"id\":\"\xef\xbb\xbf\"}", true},
		{"BOM between tokens", "{\xef\xbb\xbf\"id\":1}", false},
		// Nesting at the depth limit and one past it.
		{"arrays at maxFastDepth", frame + nest(maxFastDepth, "[", "]", "") + `}`, true},
		{"arrays past maxFastDepth", frame + nest(maxFastDepth+1, "[", "]", "") + `}`, false},
		{"objects at maxFastDepth", frame + nest(maxFastDepth-1, `{"a":`, `}`, `{}`) + `}`, true},
		{"objects past maxFastDepth", frame + nest(maxFastDepth, `{"a":`, `}`, `{}`) + `}`, false},
		{"duplicate at maxFastDepth", frame + nest(maxFastDepth-1, `{"a":`, `}`, `{"b":1,"b":2}`) + `}`, false},
		{"mixed at maxFastDepth", frame + nest(maxFastDepth/2, `[{"a":`, `}]`, `1`) + `}`, true},
		{"very deep", frame + nest(20000, "[", "]", "") + `}`, false},
		// Names: 128 and more, across open objects, empty, duplicates.
		{"maxFastNames in one object", frame + `{` + names(maxFastNames, "") + `}}`, true},
		{"past maxFastNames", frame + `{` + names(maxFastNames+1, "") + `}}`, false},
		{"maxFastNames across open objects", frame + `{` + names(maxFastNames/2, "") + `,"z":{` + names(maxFastNames/2-1, "") + `}}}`, true},
		{"names of closed objects are let go", frame + `[{` + names(100, "") + `},{` + names(100, "") + `}]}`, true},
		{"same name in sibling objects", frame + `{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":1}]}}`, true},
		{"same name as the parent's", frame + `{"x":{"x":{"x":1}}}}`, true},
		{"empty name", frame + `{"":1}}`, true},
		{"empty name twice", frame + `{"":1,"":2}}`, false},
		{"empty name and an escaped one", frame + `{"":1,"\u0000":2}}`, false},
		{"duplicate through an escape", frame + `{"a":1,"\u0061":2}}`, false},
		{"duplicate through an escape, escaped first", frame + `{"\u0061":1,"a":2}}`, false},
		{"duplicate top-level through an escape", `{"id":1,"\u0069d":2}`, false},
		{"utf8 duplicate through an escape", frame + `{"é":1,"\u00e9":2}}`, false},
		{"U+FFFD and an invalid byte as names", frame + "{\"\xef\xbf\xbd\":1,\"\xff\":2}}", false}, // duplicates to jsontext
		{"names differing in case", frame + `{"a":1,"A":2}}`, true},
		// Names that share a filter bit (nameBit: length, first and last
		// byte) are compared in full: distinct ones pass, a duplicate
		// among them does not.
		{"distinct names sharing a filter bit", frame + `{"abc":1,"axc":2,"ayc":3}}`, true},
		{"duplicate among names sharing a filter bit", frame + `{"abc":1,"axc":2,"abc":3}}`, false},
		{"duplicate long names", frame + `{"emailaddress1":"a","address1_city":"b","emailaddress1":"c"}}`, false},
		// Strings are skipped eight bytes at a time: what stops the scan
		// at every position of a word.
		{"quote at every offset", frame + `["","a","ab","abc","abcd","abcde","abcdef","abcdefg","abcdefgh","abcdefghi"]}`, true},
		{"escape at every offset", frame + `["\n","a\n","ab\n","abc\n","abcd\n","abcde\n","abcdef\n","abcdefg\n","abcdefgh\n"]}`, true},
		{"control byte after seven plain ones", frame + "\"abcdefg\x01hijklmnop\"}", false},
		{"control byte after eight plain ones", frame + "\"abcdefgh\x1fijklmnop\"}", false},
		{"DEL is plain", frame + "\"abcdefgh\x7fijklmnop\"}", true},
		{"high bytes in a long string", frame + "\"abcdefgh\xc3\xa9ijklmnop\"}", true},
		{"control byte in a long name", frame + "{\"abcdefghij\x01k\":1}}", false},
		{"high bytes in a long name", frame + "{\"abcdefghij\xc3\xa9\":1}}", true},
		{"unterminated long string", frame + `"abcdefghijklmnopqrstuvwxyz`, false},
		{"duplicate after a long object", frame + `{"a":1,"b":{` + names(100, "") + `},"a":2}}`, false},
		// Top-level members.
		{"empty object", `{}`, true},
		{"empty object with spaces", "{ \t}", true},
		{"all six members", `{"jsonrpc":"2.0","id":"x","method":"m","params":[],"result":null,"error":{}}`, true},
		{"member values of every kind", `{"id":null,"params":true,"result":false,"error":"e"}`, true},
		{"unknown member", `{"id":1,"x":1}`, false},
		{"miscased member", `{"Id":1}`, false},
		{"duplicate member", `{"id":1,"id":1}`, false},
		// Trailing garbage and truncation.
		{"trailing comma in object", `{"id":1,}`, false},
		{"trailing object", `{"id":1}{}`, false},
		{"trailing brace", `{"id":1}}`, false},
		{"trailing comma", `{"id":1},`, false},
		{"trailing letter", `{"id":1} x`, false},
		{"truncated", frame + `{"a":[1,2`, false},
		{"truncated literal", `{"id":tr`, false},
		{"truncated string", `{"id":"abc`, false},
		{"missing colon", `{"id" 1}`, false},
		{"missing value", `{"id":}`, false},
		{"single quotes", `{'id':1}`, false},
		{"literal case", `{"id":True}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.in)
			if got := checkScanFrame(t, data); got != tc.fast {
				t.Errorf("scanFrame took it: %v, want %v", got, tc.fast)
			}
			if got, want := withoutMembers(t, Decode(data)), generalDecode(data); !reflect.DeepEqual(got, want) {
				t.Errorf("Decode = %+v, the general path %+v", got, want)
			}
			// In a batch each element is decoded on its own.
			batch := []byte("[" + tc.in + ", " + tc.in + "]")
			if got, want := withoutMembers(t, Decode(batch)), generalDecode(batch); !reflect.DeepEqual(got, want) {
				t.Errorf("Decode of a batch = %+v, the general path %+v", got, want)
			}
		})
	}
}

// TestDecodeBatch: a batch's elements go through scanFrame one by one and
// answer as the general path does, valid or not.
func TestDecodeBatch(t *testing.T) {
	for _, in := range []string{
		`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"b","params":{"x":[1]}}]`,
		`[{"id":1,"id":2},{"id":1,"\u0069d":2},{"a":1}]`,
		`[1,"x",null,{}]`, `[]`, ` [ ] `, `[{"id":1},]`, `[{"id":1}`, `[{"id":1}]]`, `[{"id":1}] x`,
		"[{\"id\":\"\xff\"}]", "[{\"params\":{\"\xff\":1,\"\xfe\":1}}]",
		`[{"params":{"a":1}},{"params":{"a":1}}]`, // the same name in two elements is no duplicate
		`[[{"id":1}]]`,
	} {
		if got, want := withoutMembers(t, Decode([]byte(in))), generalDecode([]byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%q) = %+v, the general path %+v", in, got, want)
		}
	}
}

// withoutMembers checks what scanFrame recorded of each message's params
// members (checkMembers) and drops it: the general path records nothing,
// and the rest of the messages must be the same.
func withoutMembers(t *testing.T, d Decoded) Decoded {
	t.Helper()
	for i := range d.Messages {
		checkMembers(t, &d.Messages[i])
		d.Messages[i].members = paramMembers{}
	}
	return d
}

// checkMembers: the members scanFrame recorded for m are those of m.Params,
// in order, as ScanValidFlatObject finds them.
func checkMembers(t *testing.T, m *Message) {
	t.Helper()
	pm := m.members
	if pm.n == 0 {
		return
	}
	if len(m.Params) == 0 || pm.params != &m.Params[0] || int(pm.size) != len(m.Params) || m.Params[0] != '{' {
		t.Fatalf("members %+v recorded for params %q", pm, m.Params)
	}
	if pm.n < 0 {
		return
	}
	var names, values []string
	if err := ScanValidFlatObject(m.Params, func(name []byte, value jsontext.Value) error {
		names, values = append(names, string(name)), append(values, string(value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) != int(pm.n) {
		t.Fatalf("%d members recorded for params %q, which has %d", pm.n, m.Params, len(names))
	}
	for i, sp := range pm.m[:pm.n] {
		if name, value := string(m.Params[sp.nameStart:sp.nameEnd]), string(m.Params[sp.valueStart:sp.valueEnd]); name != names[i] || value != values[i] {
			t.Fatalf("member %d of %q recorded as %q: %q, want %q: %q", i, m.Params, name, value, names[i], values[i])
		}
	}
}
