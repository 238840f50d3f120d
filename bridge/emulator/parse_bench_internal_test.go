package emulator

import (
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// benchContactBody is the load driver's contact, the value of a create.
const benchContactBody = `{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}`

// BenchmarkParseValidWrite is the create path's parse of a record body
// already validated as JSON (the load driver's contact), alone: no store.
func BenchmarkParseValidWrite(b *testing.B) {
	e, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	ent := e.cat.byLogical["contact"]
	body := []byte(benchContactBody)
	b.ReportAllocs()
	for b.Loop() {
		ws, derr := parseValidWrite(ent, body, e.cat)
		if derr != nil {
			b.Fatal(derr)
		}
		ws.release()
	}
}

// BenchmarkWriteRecordFromFrame is the same body as a widget's
// cif.createrecord brings it: its members listed from where the frame's
// decode found them (protocol.CreateRecordParams.ValueMembers), the
// create's path, instead of scanned again.
func BenchmarkWriteRecordFromFrame(b *testing.B) {
	e, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	ent := e.cat.byLogical["contact"]
	m := &protocol.Decode([]byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":` + benchContactBody + `}}`)).Messages[0]
	var p protocol.CreateRecordParams
	if err := protocol.DecodeRequestParams(m, &p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ws, err := e.writeRecord(ent, "value", p.Value, &p)
		if err != nil {
			b.Fatal(err)
		}
		ws.release()
	}
}

// BenchmarkFrameToWriteSet is a create's frame from its bytes to the
// write set the store takes: Decode, the bridge's params decode, the
// emulator's parse of the value (what the frame's scan found is not
// looked for again).
func BenchmarkFrameToWriteSet(b *testing.B) {
	e, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	ent := e.cat.byLogical["contact"]
	frame := []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":` + benchContactBody + `}}`)
	b.ReportAllocs()
	for b.Loop() {
		m := &protocol.Decode(frame).Messages[0]
		var p protocol.CreateRecordParams
		if err := protocol.DecodeRequestParams(m, &p); err != nil {
			b.Fatal(err)
		}
		ws, err := e.writeRecord(ent, "value", p.Value, &p)
		if err != nil {
			b.Fatal(err)
		}
		ws.release()
	}
}
