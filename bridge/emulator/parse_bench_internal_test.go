package emulator

import "testing"

// BenchmarkParseValidWrite is the create path's parse of a record body
// already validated as JSON (the load driver's contact), alone: no store.
func BenchmarkParseValidWrite(b *testing.B) {
	e := newEmulator(b, Config{})
	ent := e.cat.byLogical["contact"]
	body := []byte(`{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}`)
	b.ReportAllocs()
	for b.Loop() {
		ws, derr := parseValidWrite(ent, body, e.cat)
		if derr != nil {
			b.Fatal(derr)
		}
		ws.release()
	}
}
