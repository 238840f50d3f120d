package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// parsed renders what a parse of a record body gave: the write set's
// columns as recorded, its binds and key bookkeeping, or the error.
func parsed(ws *writeSet, derr *dvError) string {
	if derr != nil {
		return fmt.Sprintf("error %d %s %s", derr.Status, derr.Code, derr.Message)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "keyFree %d sawKey %v colsEnd %d of %d\n", ws.keyFree, ws.sawKey, ws.colsEnd, len(ws.fields))
	for _, c := range ws.columns(nil) {
		name, kind, text, _ := c.enc.next()
		fmt.Fprintf(&b, "%s %c %q (%s)\n", name, kind, text, c.name)
	}
	if got, want := ws.fields[:ws.colsEnd].columns(nil), ws.columns(nil); len(got) != len(want) {
		fmt.Fprintf(&b, "recorded %d columns, packed %d\n", len(want), len(got))
	}
	for _, bd := range ws.binds {
		fmt.Fprintf(&b, "bind %s %s %s\n", bd.lookup, bd.target, bd.id)
	}
	return b.String()
}

// FuzzParseValidWrite: on a valid JSON object, the trusting parse of the
// CIF and xrm paths (parseValidWrite: ValidMembers, the column index, the
// plain text) takes exactly what the validating parse of the Web API and
// the seeds (parseWrite) takes, or refuses it with the same error.
func FuzzParseValidWrite(f *testing.F) {
	for _, s := range []string{
		`{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}`,
		`{"contactid":"ABCDEF01-2345-4678-9ABC-DEF012345678","lastname":"Kéy","statecode":1,"statuscode":2}`,
		`{"lastname":"One","parentcustomerid_account@odata.bind":"/accounts(abcdef01-2345-4678-9abc-def012345678)","lastname":"Two","x@OData.Community.Display.V1.FormattedValue":"y"}`,
		`{"lastname":"A\u00e9\"b\\c","firstname":"\ud83d\ude00","jobtitle":null,"birthdate":"2020-01-02"}`,
		"{\"lastname\":\"\xff\xfe invalid UTF-8\",\"firstname\":\"\xc3\xa9t\xc3\xa9 0123456789\"}",
		`{"nosuchcolumn":"x"}`, `{"parentcustomerid":{"name":"deep"}}`, `{"lastname":["x"]}`, `{"statecode":"1"}`,
		`{"statecode":7}`, `{"contactid":12}`, `{"contactid":"not a guid"}`, `{"birthdate":"yesterday"}`,
		`{"lastname":"` + string(bytes.Repeat([]byte("x"), 101)) + `"}`, `{"description":"` + string(bytes.Repeat([]byte("é"), 2001)) + `"}`,
		`{"new_note":"0123456789","new_count":2,"new_when":"2026-01-02T03:04:05Z","new_flag":true,"new_text":"plain"}`,
		`{"new_note":"0123456789x"}`, `{"new_note":"éééééééééé"}`, `{"new_count":3}`, `{"new_flag":"true"}`, `{"new_text":12}`,
		`{"parentcustomerid_account@odata.bind":null}`, `{"parentcustomerid_account@odata.bind":12}`, `{}`, ` { "lastname" : "x" } `,
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	e := newEmulator(f, Config{Schema: []byte(`{"entities":[{"logicalName":"contact","attributes":["new_note","new_count","new_when","new_flag","new_text"]}],
		"attributeTypes":{"contact":{"new_note":{"type":"Memo","maxLength":10},"new_count":{"type":"Picklist","options":[1,2]},
		"new_when":{"type":"DateTime"},"new_flag":{"type":"Boolean"},"new_text":{"type":"String"}}}}`)})
	ents := []*entity{e.cat.byLogical["contact"], e.cat.byLogical["account"], e.cat.byLogical["phonecall"]}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		if !json.Valid(body) || len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
			return
		}
		ent := ents[int(which)%len(ents)]
		ws, derr := parseWrite(ent, body, e.cat)
		want := parsed(ws, derr)
		vws, vderr := parseValidWrite(ent, body, e.cat)
		if got := parsed(vws, vderr); got != want {
			t.Fatalf("%s %q:\nparseValidWrite:\n%s\nparseWrite:\n%s", ent.LogicalName, body, got, want)
		}
	})
}
