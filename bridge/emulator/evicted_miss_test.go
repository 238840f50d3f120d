package emulator_test

import (
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// A call naming a record the emulator evicted to stay within its bound
// gets Dataverse's 404 for a missing record (the emulator keeps no trace
// of it), and the ground truth counts it apart from a 404 for an id that
// never existed: a load run that reads back its own records can tell the
// bound's doing from a bug (the suite's rare -32001 answers were this).
// Retrieve, update, delete and a lookup bind on create each count once.
func TestEvictedRecordMissCounted(t *testing.T) {
	e := newBounded(t, 3)
	first := newContact(t, e, 0)
	for i := 1; i <= 3; i++ {
		newContact(t, e, i) // the fourth create evicts the first
	}
	if exists(t, e, first) {
		t.Fatal("the first contact survived past the bound")
	}
	if got := e.Stats().Tables["contact"].EvictedMisses; got != 1 {
		t.Fatalf("after a retrieve of the evicted contact: evictedMisses %d, want 1", got)
	}
	const never = "00000000-0000-4000-8000-00000000dead"
	if exists(t, e, never) {
		t.Fatal("a never-created contact exists")
	}
	if got := e.Stats().Tables["contact"].EvictedMisses; got != 1 {
		t.Fatalf("a 404 for an id that never existed counted as evicted: evictedMisses %d", got)
	}
	calls := []struct {
		method string
		params map[string]any
	}{
		{protocol.MethodUpdateRecord, map[string]any{"entityName": "contact", "entityId": first, "value": map[string]any{"lastname": "x"}}},
		{protocol.MethodDeleteRecord, map[string]any{"entityName": "contact", "entityId": first}},
		{protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{
			"subject": "In", "regardingobjectid_contact_phonecall@odata.bind": "contacts(" + first + ")"}}},
	}
	for i, c := range calls {
		_, err := call(e, c.method, c.params)
		if err == nil {
			t.Fatalf("%s naming the evicted contact succeeded", c.method)
		}
		if d := evictBackendData(t, err); d.HTTPStatus != 404 || d.DataverseCode != "0x80040217" {
			t.Fatalf("%s: %+v, want 404 0x80040217", c.method, d)
		}
		if got := e.Stats().Tables["contact"].EvictedMisses; got != int64(2+i) {
			t.Fatalf("after %s: evictedMisses %d, want %d", c.method, got, 2+i)
		}
	}
	e.Reset()
	if got := e.Stats().Tables["contact"].EvictedMisses; got != 0 {
		t.Fatalf("after Reset: evictedMisses %d, want 0", got)
	}
	if exists(t, e, first) || e.Stats().Tables["contact"].EvictedMisses != 0 {
		t.Fatal("after Reset a retrieve of a record evicted before it counts as evicted")
	}
}
