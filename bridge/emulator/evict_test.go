package emulator_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

func newBounded(t *testing.T, max int) *emulator.Emulator {
	t.Helper()
	e := newEmulator(t, emulator.Config{MaxRecords: max})
	return e
}

func newContact(t *testing.T, e *emulator.Emulator, i int) string {
	t.Helper()
	res, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"lastname": fmt.Sprint("n", i)}})
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.CreateResult
	if err := json.Unmarshal(res, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func exists(t *testing.T, e *emulator.Emulator, id string) bool {
	t.Helper()
	_, err := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": id})
	if err == nil {
		return true
	}
	if d := evictBackendData(t, err); d.HTTPStatus != 404 {
		t.Fatalf("retrieve %s: %v", id, err)
	}
	return false
}

func evictBackendData(t *testing.T, err error) protocol.BackendErrorData {
	t.Helper()
	pe := protocol.AsError(err)
	var d protocol.BackendErrorData
	if pe.Code != protocol.CodeBackend || json.Unmarshal(pe.Data, &d) != nil {
		t.Fatalf("want a backend error, got %v", err)
	}
	return d
}

func TestMaxRecordsEvictsOldest(t *testing.T) {
	e := newBounded(t, 10)
	var ids []string
	for i := range 25 {
		ids = append(ids, newContact(t, e, i))
	}
	st := e.Stats().Tables["contact"]
	if st.Records != 10 || st.Evicted != 15 || e.Stats().MaxRecords != 10 {
		t.Fatalf("stats %+v (max %d), want 10 records and 15 evicted, max 10", st, e.Stats().MaxRecords)
	}
	for i, id := range ids {
		// Checking the newest last: a retrieve marks a record used, which
		// must not change the answer for the ones checked after it.
		if got, want := exists(t, e, id), i >= 15; got != want {
			t.Fatalf("record %d exists=%v, want %v", i, got, want)
		}
	}
}

func TestMaxRecordsSecondChance(t *testing.T) {
	e := newBounded(t, 3)
	a, b, c := newContact(t, e, 0), newContact(t, e, 1), newContact(t, e, 2)
	if !exists(t, e, a) { // a is read: it survives the next eviction
		t.Fatal("a missing")
	}
	d := newContact(t, e, 3)
	for id, want := range map[string]bool{a: true, b: false, c: true, d: true} {
		if got := exists(t, e, id); got != want {
			t.Fatalf("%s exists=%v, want %v", id, got, want)
		}
	}
	if st := e.Stats().Tables["contact"]; st.Records != 3 || st.Evicted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A record another one points to (an @odata.bind) counts as used.
func TestMaxRecordsKeepsReferencedRecords(t *testing.T) {
	e := newBounded(t, 3)
	a := newContact(t, e, 0)
	b := newContact(t, e, 1)
	if _, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{
		"subject": "call", "regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + a + ")"}}); err != nil {
		t.Fatal(err)
	}
	newContact(t, e, 2) // over the bound: b goes, a was referenced
	if !exists(t, e, a) || exists(t, e, b) {
		t.Fatalf("a exists=%v b exists=%v, want a kept and b evicted", exists(t, e, a), exists(t, e, b))
	}
}

func TestMaxRecordsDeletesFreeRoom(t *testing.T) {
	e := newBounded(t, 5)
	for round := range 2000 { // create and delete: the bound is never reached
		id := newContact(t, e, round)
		if _, err := call(e, protocol.MethodDeleteRecord, map[string]any{"entityName": "contact", "entityId": id}); err != nil {
			t.Fatal(err)
		}
	}
	var keep []string
	for i := range 5 {
		keep = append(keep, newContact(t, e, i))
	}
	if st := e.Stats().Tables["contact"]; st.Records != 5 || st.Evicted != 0 {
		t.Fatalf("stats %+v, want 5 records and nothing evicted", st)
	}
	for _, id := range keep {
		if !exists(t, e, id) {
			t.Fatalf("%s was evicted", id)
		}
	}
}

func TestMaxRecordsDefaultAndUnbounded(t *testing.T) {
	for max, want := range map[int]int{0: emulator.DefaultMaxRecords, -1: 0} {
		e := newBounded(t, max)
		for i := range 50 {
			newContact(t, e, i)
		}
		if st := e.Stats().Tables["contact"]; st.Records != 50 || st.Evicted != 0 || e.Stats().MaxRecords != want {
			t.Fatalf("MaxRecords %d: stats %+v, max %d", max, st, e.Stats().MaxRecords)
		}
	}
}

// Seeded records are reference data: never evicted, not counted.
func TestMaxRecordsKeepsSeededRecords(t *testing.T) {
	e := newEmulator(t, emulator.Config{MaxRecords: 2, Seed: []byte(`{"contact":[
		{"contactid":"11111111-1111-4111-8111-111111111111","lastname":"a"},
		{"contactid":"22222222-2222-4222-8222-222222222222","lastname":"b"},
		{"contactid":"33333333-3333-4333-8333-333333333333","lastname":"c"}]}`)})
	var made []string
	for i := range 5 {
		made = append(made, newContact(t, e, i))
	}
	for _, id := range []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333", made[3], made[4]} {
		if !exists(t, e, id) {
			t.Fatalf("%s was evicted", id)
		}
	}
	if st := e.Stats().Tables["contact"]; st.Records != 5 || st.Evicted != 3 {
		t.Fatalf("stats %+v, want 3 seeded + 2 kept, 3 evicted", st)
	}
}
