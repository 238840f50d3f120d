package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/cifbridge/cifbridge/protocol"
)

// TestValidMembersWordBoundaries puts every kind of byte the eight-byte
// string scan (nextStop) stops at, or must not stop at, at every place of
// the first three words of a name and of a string value, with the literal
// starting at every offset within a word: each member is the member
// ScanFlatObject reports, and Plain/Text are StringBytes' answer. The same
// strings cut short (a literal ending at the end of the data, a backslash
// as the last byte) end the scan with an error, never a panic or a read
// past the data.
func TestValidMembersWordBoundaries(t *testing.T) {
	stops := []string{`\"`, `\\`, `\u00e9`, `\u0000`, `\ud83d\ude00`, "é", "€", "😀", "\xff", "\xc3", "\xed\xa0\x80", "\x7f", "~", "\"\""}
	checked := 0
	for pad := range 8 { // where the literal starts within a word
		for n := range 24 { // plain bytes before the stop
			for _, stop := range stops {
				content := strings.Repeat("a", n) + stop + strings.Repeat("b", (7*n+len(stop))%11)
				if stop == "\"\"" { // an empty string value, then a long one
					content = ""
				}
				key := strings.Repeat("k", pad+1)
				for _, data := range []string{
					`{"` + key + `":"` + content + `"}`,
					`{"` + content + `":1,"` + key + `":"` + content + `","z":"` + strings.Repeat("y", n) + `"}`,
					`{"` + key + `":{"x":"` + content + `"},"a":["` + content + `"]}`,
				} {
					if !json.Valid([]byte(data)) {
						continue // a lone "\xc3" stays: the frame validator lets invalid UTF-8 pass
					}
					checked++
					checkValidMembers(t, []byte(data))
					// Cut short anywhere: an error or fewer members, never a panic.
					for cut := range len(data) {
						m := protocol.ValidMembers([]byte(data[:cut]))
						for _, ok := m.Next(); ok; _, ok = m.Next() {
						}
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d objects checked", checked)
	}
}

// checkValidMembers compares ValidMembers on data (valid JSON) with
// ScanFlatObject and StringBytes.
func checkValidMembers(t *testing.T, data []byte) {
	t.Helper()
	type member struct{ name, value string }
	var want []member
	if err := protocol.ScanFlatObject(data, func(name []byte, v jsontext.Value) error {
		want = append(want, member{string(name), string(v)})
		return nil
	}); err != nil {
		t.Fatalf("%q: ScanFlatObject: %v", data, err)
	}
	m := protocol.ValidMembers(data)
	i := 0
	for mem, ok := m.Next(); ok; mem, ok = m.Next() {
		if i >= len(want) {
			t.Fatalf("%q: more members than ScanFlatObject's %d", data, len(want))
		}
		if w := want[i]; string(mem.Name) != w.name || string(mem.Value) != w.value {
			t.Fatalf("%q: member %d = %q:%q, ScanFlatObject %q:%q", data, i, mem.Name, mem.Value, w.name, w.value)
		}
		if mem.Value.Kind() == '"' {
			s, err := protocol.StringBytes(mem.Value)
			plain := err == nil && len(s) == len(mem.Value)-2 && string(s) == string(mem.Value[1:len(mem.Value)-1])
			if mem.Plain != plain || plain && string(mem.Text) != string(s) {
				t.Fatalf("%q: member %q: Plain %v Text %q, StringBytes %q (%v)", data, mem.Name, mem.Plain, mem.Text, s, err)
			}
		} else if mem.Plain {
			t.Fatalf("%q: member %q is no string but Plain", data, mem.Name)
		}
		i++
	}
	if err := m.Err(); err != nil || i != len(want) {
		t.Fatalf("%q: %d members (%v), ScanFlatObject %d", data, i, err, len(want))
	}
}
