package emulator

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// FuzzFrameBodyAgainstWebAPI follows a record body the way a widget's
// cif.createrecord brings it: inside a frame that protocol.Decode accepted
// (its fast scan or the jsonv2 path; invalid UTF-8 passes, as in jsontext
// with AllowInvalidUTF8), its params decoded by the bridge's trusting
// DecodeValidParams, then Emulator.writeBody's trusting scan. Whatever got
// that far must be parsed exactly as the Web API's validating parse
// (parseWrite) parses the same object, or refused with the same error: a
// frame the validator let through with something json.Valid would refuse
// would show here as a body parseWrite refuses and writeBody takes.
func FuzzFrameBodyAgainstWebAPI(f *testing.F) {
	long := strings.Repeat("0123456789", 30)
	for _, s := range []string{
		`{"firstname":"Aino","lastname":"Virtanen","emailaddress1":"aino.virtanen@example.com"}`,
		`{"lastname":"\u0000\u001f","firstname":"\ud83d\ude00 \ud800 \udc00x"}`,
		"{\"lastname\":\"\xff\xfe\xfd\",\"last\xffname\":\"x\",\"firstname\":\"\xed\xa0\x80\xc0\x80\"}",
		"{\"jobtitle\":\"0123456\xc3\xa9\",\"telephone1\":\"01234567\xe2\x82\xac\",\"mobilephone\":\"0123456789abcde\\\\\"}",
		`{"lastname":"` + long[:49] + `é","firstname":"` + long[:50] + `"}`,
		`{"description":"` + long + long + long + long + long + long + long + `"}`,
		`{"last\u006eame":"escaped name","x@odata.type":"ignored","parentcustomerid_account@odata.bind":"/accounts(abcdef01-2345-4678-9abc-def012345678)"}`,
		`{"lastname":"A","lastname":"B"}`, `{"lastname":{"a":[1,{"b":"]}"}]}}`, `{"numberofemployees":1e3}`,
		`{"statecode":-0,"birthdate":"2020-01-02","new_note":"x"}`, ` { } `, `"{\"lastname\":\"in a string\"}"`,
		`"{\"lastname\":\"bad\",}"`, `[]`, `null`, `12`,
	} {
		f.Add([]byte(s))
	}
	e := newEmulator(f, Config{})
	ent := e.cat.byLogical["contact"]
	prefix := []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":`)
	f.Fuzz(func(t *testing.T, value []byte) {
		frame := append(append(bytes.Clone(prefix), value...), "}}"...)
		d := protocol.Decode(frame)
		if d.ParseError != nil || len(d.Messages) != 1 || d.Messages[0].Error != nil {
			return // refused by the frame's decode: never reaches the emulator
		}
		var p protocol.CreateRecordParams
		if err := protocol.DecodeValidParams(d.Messages[0].Params, &p); err != nil {
			return // refused by the bridge
		}
		body, err := protocol.NormalizeObject("value", p.Value)
		if err != nil {
			return // refused by writeBody before any scan
		}
		ws, derr := parseWrite(ent, body, e.cat)
		want := parsed(ws, derr)
		vws, verr := e.writeBody(ent, "value", p.Value)
		var got string
		switch verr := verr.(type) {
		case nil:
			got = parsed(vws, nil)
		case *dvError:
			got = parsed(nil, verr)
		default:
			got = "error " + verr.Error()
		}
		if got != want {
			t.Fatalf("value %q:\nwriteBody:\n%s\nparseWrite:\n%s", value, got, want)
		}
	})
}
