package emulator_test

import (
	"encoding/json"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// TestCreatesShareNothing creates records back to back (their write sets
// are recycled): a record with a bind and many columns, then small ones,
// concurrently too; each keeps exactly its own columns and binds.
func TestCreatesShareNothing(t *testing.T) {
	e := newSeeded(t)
	res, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "First", "lastname": "Contact"}})
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(res, &created); err != nil {
		t.Fatal(err)
	}
	if _, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{
		"subject": "big", "description": "a long description", "regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + created.ID + ")"}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 8)
	for i := range 8 {
		go func() {
			for j := range 50 {
				subject := string(rune('a'+i)) + string(rune('a'+j%26))
				res, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{"subject": subject}})
				if err != nil {
					done <- err
					return
				}
				var c struct{ ID string }
				if err := json.Unmarshal(res, &c); err != nil {
					done <- err
					return
				}
				got, err := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "phonecall", "entityId": c.ID})
				if err != nil {
					done <- err
					return
				}
				var rec map[string]any
				if err := json.Unmarshal(got, &rec); err != nil {
					done <- err
					return
				}
				if rec["subject"] != subject || rec["description"] != nil || rec["_regardingobjectid_value"] != nil {
					t.Errorf("record %s: %v, want subject %q and no description or regarding", c.ID, rec, subject)
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
