package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// queueEmulator is an emulator bounded at max with helpers to create
// contacts of the given ids in order, read one, and list the contacts kept.
func queueEmulator(t *testing.T, max int) (e *Emulator, create func(ids ...string), read func(id string), kept func() []string) {
	t.Helper()
	e = newEmulator(t, Config{MaxRecords: max})
	guid := func(id string) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", id) } // id: at most 6 bytes
	exec := func(method string, params any) error {
		p, _ := json.Marshal(params)
		_, err := e.Execute(context.Background(), &correlation.Attempt{Session: "s", Method: method, Params: p})
		return err
	}
	create = func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := exec(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"contactid": guid(id), "lastname": id}}); err != nil {
				t.Fatalf("create %s: %v", id, err)
			}
		}
	}
	read = func(id string) {
		t.Helper()
		if err := exec(protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": guid(id)}); err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
	}
	kept = func() []string {
		e.mu.RLock()
		defer e.mu.RUnlock()
		var out []string
		for _, r := range e.store.tables["contact"] {
			out = append(out, r.fields.str("lastname"))
		}
		slices.Sort(out)
		return out
	}
	return e, create, read, kept
}

// TestRestoreRequeues: a change set rolled back brings the queue back as
// it was, its entries at the places of the records restored, also when
// the change set moved them (a record read, then passed over) and the
// queue dropped its head meanwhile: eviction afterwards goes on in the
// order it had, a read marking the right entry.
func TestRestoreRequeues(t *testing.T) {
	e, create, read, kept := queueEmulator(t, 3)
	create("a", "b", "c")
	snap := e.snapshot()
	read("a")             // a's entry moves to the tail when eviction passes over it
	for i := range 3000 { // past the head's compaction (1024 consumed)
		create(fmt.Sprint("n", i))
	}
	e.restore(snap)
	if got := kept(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("restored %v", got)
	}
	read("a") // must mark a's restored entry
	create("x", "y", "z")
	if got, want := kept(), []string{"a", "y", "z"}; !slices.Equal(got, want) {
		t.Fatalf("after a read of a and three creates: %v, want %v (b, c, then x evicted)", got, want)
	}
}

// TestRestoreKeepsReads: a record read during a change set that is
// rolled back keeps its second chance.
func TestRestoreKeepsReads(t *testing.T) {
	e, create, read, kept := queueEmulator(t, 3)
	create("a", "b", "c")
	snap := e.snapshot()
	read("b")
	e.restore(snap)
	create("x") // evicts a
	create("y") // passes over b (read), evicts c
	if got, want := kept(), []string{"b", "x", "y"}; !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
}
