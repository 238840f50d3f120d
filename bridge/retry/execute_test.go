package retry_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// A CRUD Create sent through enreach.xrm.execute is a logical create like
// createRecord's: retried with the default maxRetries and delay (1000 ms),
// tracked in the ledger, idempotent under --idempotent-creates. Each case
// checks the emulator's records against the ledger entry.
func TestExecuteCreateIsTracked(t *testing.T) {
	slowFirst := func(fail *emulator.FaultError) *emulator.FaultProfile {
		return &emulator.FaultProfile{Rules: []emulator.FaultRule{{Method: "execute", LatencyMs: 400, Count: 1, Error: fail}}}
	}
	tests := []struct {
		name        string
		faults      *emulator.FaultProfile
		idempotent  bool
		entity      string
		wantStatus  protocol.LedgerStatus // "" for no entry
		wantRecords int
		wantDup     bool // (for cleared: whether the late failure beat the reply)
	}{
		{"first attempt succeeds", nil, false, "contact", "", 1, false},
		{"timed out, landed late: confirmed", slowFirst(nil), false, "contact", protocol.LedgerConfirmed, 2, true},
		{"timed out, failed late: cleared", slowFirst(&emulator.FaultError{Status: 500, Code: "0x80040216", Message: "An unexpected error occurred."}), false, "contact", protocol.LedgerCleared, 1, true},
		{"idempotent: resolved", slowFirst(nil), true, "phonecall", protocol.LedgerResolved, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := startRig(t, rigOptions{faults: tt.faults, idempotent: tt.idempotent})
				c := r.dial()
				res, rep := c.executeCreate(tt.entity, map[string]any{"description": tt.name})
				if rep.Error != nil {
					t.Fatalf("execute Create: %+v", rep.Error)
				}
				dupOK := res.PossibleDuplicate == tt.wantDup || tt.wantStatus == protocol.LedgerCleared
				if res.EntityType != tt.entity || res.ID == "" || !dupOK || (res.LedgerID != "") != (tt.wantStatus != "") {
					t.Fatalf("result %s", rep.Result)
				}
				r.settle(5 * time.Second)
				if n := r.records(tt.entity); n != tt.wantRecords {
					t.Fatalf("emulator holds %d %s records, want %d", n, tt.entity, tt.wantRecords)
				}
				all, err := r.ledger.List(context.Background(), ledger.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if tt.wantStatus == "" {
					if len(all) != 0 || res.Attempts != 1 {
						t.Fatalf("ledger %+v, attempts %d", all, res.Attempts)
					}
					return
				}
				e := r.entry(res.LedgerID)
				if len(all) != 1 || e.Status != tt.wantStatus || e.Method != protocol.MethodXrmExecute || e.Entity != tt.entity ||
					res.Attempts != 2 || e.Attempts[0].RecordID == "" && tt.wantRecords == 2 {
					t.Fatalf("entry %+v (result %s)", e, rep.Result)
				}
				// The ledger knows exactly the records the emulator holds.
				if len(e.RecordIDs) != tt.wantRecords || !slices.Contains(e.RecordIDs, res.ID) {
					t.Fatalf("recordIds %v, result id %s, emulator %d", e.RecordIDs, res.ID, tt.wantRecords)
				}
				for _, id := range e.RecordIDs {
					if rep := c.call(protocol.MethodXrmRetrieveRecord, map[string]any{"entityLogicalName": tt.entity, "id": id}); rep.Error != nil {
						t.Fatalf("retrieve %s: %+v", id, rep.Error)
					}
				}
				if tt.idempotent && (e.Key != res.ID || e.Attempts[1].DataverseCode != "0x80040237") {
					t.Fatalf("idempotent: key %s, id %s, attempt 2 %+v", e.Key, res.ID, e.Attempts[1])
				}
				if got := c.ledgerNote(5*time.Second, func(x protocol.LedgerEntry) bool { return x.ID == e.ID && x.Status == tt.wantStatus }); got.Method != protocol.MethodXrmExecute {
					t.Fatalf("notification %+v", got)
				}
			})
		})
	}
}

func TestExecuteCreateBadInput(t *testing.T) {
	r := startRig(t, rigOptions{idempotent: true})
	c := r.dial()
	md := map[string]any{"operationType": 2, "operationName": "Create"}
	tests := []struct {
		name string
		data any
		want string
	}{
		{"no data", nil, `"data" of a CRUD Create must be an object`},
		{"data not an object", []int{1}, `"data" of a CRUD Create must be an object`},
		{"no entity", map[string]any{"payload": map[string]any{}}, `"data.etn" is blank`},
		{"payload missing", map[string]any{"etn": "contact"}, `"data.payload"`},
		{"bad key", map[string]any{"etn": "contact", "payload": map[string]any{"contactid": "nope"}}, `"data.payload.contactid" must be a GUID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := c.call(protocol.MethodXrmExecute, map[string]any{"data": tt.data, "metaData": md})
			wantCode(t, rep, protocol.CodeInvalidParams)
			if !strings.Contains(rep.Error.Message, tt.want) {
				t.Fatalf("message %q, want %q", rep.Error.Message, tt.want)
			}
		})
	}
	if n := r.ops("execute"); n != 0 {
		t.Fatalf("execute ran %d times", n)
	}
	// The caller's own key is kept, and entityName works like etn.
	key := "5f0c4a52-8d0e-4c1b-9d55-2f7a1f3e9b01"
	res, rep := c.createVia(protocol.MethodXrmExecute, map[string]any{
		"data":     map[string]any{"entityName": "contact", "Payload": map[string]any{"contactid": key, "lastname": "K"}},
		"metaData": md,
	})
	if rep.Error != nil || res.ID != key || r.records("contact") != 1 {
		t.Fatalf("create with own key: %s %+v", rep.Result, rep.Error)
	}
}

// A 412 on a retry means an earlier attempt landed only when an earlier
// attempt may have run. After a 503 (which proves attempt 1 did nothing)
// the key belongs to a record that was there before: a conflict, not a
// success with somebody else's record.
func TestIdempotentConflictAfterNotRunIsNoSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, rigOptions{})
		c := r.dial()
		key := "0b8f9d3e-3c1a-4c55-9a0e-6f1f2f5b7a11"
		if _, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"contactid": key, "lastname": "first"}}); rep.Error != nil {
			t.Fatal(rep.Error)
		}
		r.emu.SetFaults(emulator.FaultProfile{Rules: []emulator.FaultRule{{Method: "createrecord", Count: 1, Error: &emulator.FaultError{Status: 503, Code: "0x80040216", Message: "busy"}}}})
		_, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"contactid": key, "lastname": "second"}, "idempotent": true, "delay": 0})
		wantCode(t, rep, protocol.CodeRetriesExhausted)
		var d protocol.ExhaustedData
		if err := json.Unmarshal(rep.Error.Data, &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Attempts) != 2 || d.Attempts[1].HTTPStatus != 412 || d.LedgerID != "" {
			t.Fatalf("data %+v", d)
		}
		if n := r.records("contact"); n != 1 {
			t.Fatalf("contacts %d", n)
		}
		if l, _ := r.ledger.List(context.Background(), ledger.Filter{}); len(l) != 0 {
			t.Fatalf("ledger %+v", l)
		}
	})
}

const opsSchema = `{"operations":[{"name":"new_Ping","kind":"action","response":{"pong":true}}]}`

// enreach.xrm.execute retries what repeating cannot hurt on any retryable
// error, and an action only on errors that prove it never ran.
func TestExecuteRetryPolicy(t *testing.T) {
	busy := func(status int) *emulator.FaultError {
		return &emulator.FaultError{Status: status, Code: "0x80040216", Message: "busy"}
	}
	tests := []struct {
		name     string
		op       map[string]any
		fault    emulator.FaultRule
		attempts int64 // injected errors + operations that ran = attempts made
		wantCode int64 // 0: success
	}{
		{"function retried through 503", map[string]any{"operationType": 1, "operationName": "WhoAmI"}, emulator.FaultRule{Method: "execute", Count: 1, Error: busy(503)}, 2, 0},
		{"action retried through 429", map[string]any{"operationType": 0, "operationName": "new_Ping"}, emulator.FaultRule{Method: "execute", Count: 1, Error: busy(429)}, 2, 0},
		{"action not retried after 504", map[string]any{"operationType": 0, "operationName": "new_Ping"}, emulator.FaultRule{Method: "execute", Error: busy(504)}, 1, protocol.CodeBackend},
		{"action not retried after a timeout", map[string]any{"operationType": 0, "operationName": "new_Ping"}, emulator.FaultRule{Method: "execute", LatencyMs: 400, Count: 1}, 1, protocol.CodeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := startRig(t, rigOptions{schema: opsSchema, faults: &emulator.FaultProfile{Rules: []emulator.FaultRule{tt.fault}}})
				c := r.dial()
				rep := c.call(protocol.MethodXrmExecute, map[string]any{"metaData": tt.op})
				if tt.wantCode == 0 && rep.Error != nil || tt.wantCode != 0 && (rep.Error == nil || rep.Error.Code != tt.wantCode) {
					t.Fatalf("got %s %+v, want code %d", rep.Result, rep.Error, tt.wantCode)
				}
				if tt.fault.LatencyMs > 0 {
					r.waitOps("execute", 1)
				}
				st := r.emu.Stats()
				if got := st.InjectedErrors + st.Operations["execute"]; got != tt.attempts {
					t.Fatalf("attempts %d, want %d (stats %+v)", got, tt.attempts, st)
				}
			})
		})
	}
}

// waitOps waits until the emulator has run method n times (a slow
// operation completes after the call that started it has been answered).
func (r *rig) waitOps(method string, n int64) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.ops(method) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s ran %d times, want %d", method, r.ops(method), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
