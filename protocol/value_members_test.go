package protocol_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// recordParams are the params whose ValueMembers lists their value's
// members.
type recordParams interface {
	ValueMembers(value []byte) protocol.ValidMemberScan
}

// memberList lists what a scan returns, one line per member, and its
// error last.
func memberList(m protocol.ValidMemberScan) []string {
	var out []string
	for mem, ok := m.Next(); ok; mem, ok = m.Next() {
		out = append(out, fmt.Sprintf("%q=%q plain=%v text=%q", mem.Name, mem.Value, mem.Plain, mem.Text))
	}
	return append(out, fmt.Sprint(m.Err()))
}

// sameParams reports whether two decoded params are equal in every
// exported field; for record params, got's ValueMembers of its Value
// must list what ValidMembers lists (the record params also keep, in an
// unexported field, where the frame's decode found the value's members).
func sameParams(t testing.TB, want, got any) bool {
	t.Helper()
	if p, ok := got.(recordParams); ok {
		value := reflect.ValueOf(got).Elem().FieldByName("Value").Bytes()
		if g, w := memberList(p.ValueMembers(value)), memberList(protocol.ValidMembers(value)); !reflect.DeepEqual(g, w) {
			t.Errorf("%T with value %q: ValueMembers lists %q, ValidMembers %q", got, value, g, w)
		}
	}
	vw, vg := reflect.ValueOf(want), reflect.ValueOf(got)
	if vw.Type() != vg.Type() {
		return false
	}
	if vw.Kind() != reflect.Pointer || vw.Elem().Kind() != reflect.Struct {
		return reflect.DeepEqual(want, got)
	}
	vw, vg = vw.Elem(), vg.Elem()
	for i := range vw.NumField() {
		if vw.Type().Field(i).IsExported() && !reflect.DeepEqual(vw.Field(i).Interface(), vg.Field(i).Interface()) {
			return false
		}
	}
	return true
}

// TestValueMembersRecorded: the create and update params DecodeRequestParams
// fills from a frame scanFrame took list their value's members from where
// the frame's scan found them, and list exactly what ValidMembers lists;
// every other value (a string holding the object, more members than are
// recorded, params replaced, a frame the general path read) is scanned.
func TestValueMembersRecorded(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `"c%d":%d,`, i, i)
		}
		return b.String()
	}
	const head = `{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":`
	for _, tc := range []struct {
		name, frame string
		normalize   bool // the value is a string: the body is the object it holds
		replace     bool // Params is replaced by a copy after Decode
		recorded    bool
	}{
		{name: "contact", frame: head + `{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","telephone1":"+358401234567"}}}`, recorded: true},
		{name: "update", frame: `{"jsonrpc":"2.0","id":1,"method":"cif.updaterecord","params":{"entityName":"contact","entityId":"x","value":{"a":1}}}`, recorded: true},
		{name: "every kind of value", frame: head + `{"value":{"s":"a\"b","u":"\u00e9","m":"Mäkinen","bad":"` + "\xff" + `","e":"","n":-1.5e3,"t":true,"f":false,"z":null,"o":{"a":[1,{"b":"}"}]},"l":[]},"entityName":"contact"}}`, recorded: true},
		{name: "space everywhere", frame: head + ` { "entityName" : "contact" , "value" :` + " \t\r\n" + `{ "a" : "x" ,` + "\n" + `"b" : { } } } }`, recorded: true},
		{name: "empty value", frame: head + `{"entityName":"contact","value":{}}}`, recorded: true},
		{name: "as many members as are recorded", frame: head + `{"entityName":"contact","value":{` + many(15) + `"z":1}}}`, recorded: true},
		{name: "too many members", frame: head + `{"entityName":"contact","value":{` + many(16) + `"z":1}}}`},
		{name: "long value", frame: head + `{"entityName":"contact","value":{"a":"` + strings.Repeat("x", 1<<16-20) + `","b":1}}}`, recorded: true},
		{name: "too long a value", frame: head + `{"entityName":"contact","value":{"a":"` + strings.Repeat("x", 1<<16) + `","b":1}}}`},
		{name: "escaped entity name", frame: head + `{"entityName":"c\u006fntact","value":{"a":1}}}`, recorded: true}, // decoded by DecodeValidParams
		{name: "in a batch", frame: `[` + head + `{"entityName":"contact","value":{"a":1}}}]`},                        // not recorded
		{name: "value in a string", frame: head + `{"entityName":"contact","value":"{\"a\":1}"}}`, normalize: true},
		{name: "params replaced", frame: head + `{"entityName":"contact","value":{"a":1}}}`, replace: true},
		{name: "general path", frame: head + `{"entity\u004eame":"contact","value":{"a":1}}}`},
		{name: "escaped name in the value", frame: head + `{"entityName":"contact","value":{"\u0061":1}}}`},
		{name: "miscased value", frame: head + `{"entityName":"contact","Value":{"a":1}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := protocol.Decode([]byte(tc.frame))
			if d.ParseError != nil || d.Messages[0].Kind != protocol.KindRequest {
				t.Fatalf("Decode(%q) = %+v", tc.frame, d)
			}
			m := &d.Messages[0]
			if tc.replace {
				m.Params = append([]byte(nil), m.Params...)
			}
			var p recordParams
			var value []byte
			if m.Method == protocol.MethodUpdateRecord {
				var u protocol.UpdateRecordParams
				if err := protocol.DecodeRequestParams(m, &u); err != nil {
					t.Fatal(err)
				}
				p, value = &u, u.Value
			} else {
				var c protocol.CreateRecordParams
				if err := protocol.DecodeRequestParams(m, &c); err != nil {
					t.Fatal(err)
				}
				p, value = &c, c.Value
			}
			if tc.normalize {
				var err error
				if value, err = protocol.NormalizeObject("value", value); err != nil {
					t.Fatal(err)
				}
			}
			if got := protocol.UsesRecordedMembers(p, value); got != tc.recorded {
				t.Errorf("recorded members used: %v, want %v", got, tc.recorded)
			}
			got, want := memberList(p.ValueMembers(value)), memberList(protocol.ValidMembers(value))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ValueMembers(%q) = %q, ValidMembers %q", value, got, want)
			}
		})
	}
}
