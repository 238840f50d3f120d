package retry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// A CRUD Create sent through enreach.xrm.execute is a logical create like
// createRecord's, with one attempt (Enreach documents no retry for execute):
// a timed-out attempt fails the call with its ledger entry, which the late
// answer then settles. Each case checks the emulator's records against the
// ledger entry.
func TestExecuteCreateIsTracked(t *testing.T) {
	slowFirst := func(fail *protocol.FaultError) *protocol.FaultProfile {
		return &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "execute", LatencyMs: 400, Count: 1, Error: fail}}}
	}
	tests := []struct {
		name        string
		faults      *protocol.FaultProfile
		idempotent  bool
		entity      string
		wantStatus  protocol.LedgerStatus // "" for no entry
		wantRecords int
	}{
		{"first attempt succeeds", nil, false, "contact", "", 1},
		{"timed out, landed late: cleared with its record", slowFirst(nil), false, "contact", protocol.LedgerCleared, 1},
		{"timed out, failed late: cleared", slowFirst(&protocol.FaultError{Status: 500, Code: "0x80040216", Message: "An unexpected error occurred."}), false, "contact", protocol.LedgerCleared, 0},
		{"idempotent, landed late: resolved", slowFirst(nil), true, "phonecall", protocol.LedgerResolved, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inRig(t, rigOptions{faults: tt.faults, idempotent: tt.idempotent}, func(t *testing.T, r *rig, c *client) {
				res, rep := c.executeCreate(tt.entity, map[string]any{"description": tt.name})
				if tt.wantStatus == "" {
					if rep.Error != nil || res.EntityType != tt.entity || res.ID == "" || res.Attempts != 1 || res.LedgerID != "" {
						t.Fatalf("execute Create: %s %+v", rep.Result, rep.Error)
					}
					if n := r.records(tt.entity); n != 1 {
						t.Fatalf("records %d", n)
					}
					return
				}
				d := wantExhausted(t, rep)
				if len(d.Attempts) != 1 || d.LedgerID == "" {
					t.Fatalf("one attempt and a ledger entry, got %+v", d)
				}
				r.settle(5 * time.Second)
				if n := r.records(tt.entity); n != tt.wantRecords {
					t.Fatalf("emulator holds %d %s records, want %d", n, tt.entity, tt.wantRecords)
				}
				e := r.entry(d.LedgerID)
				if e.Status != tt.wantStatus || e.Method != protocol.MethodXrmExecute || e.Entity != tt.entity || len(e.Attempts) != 1 {
					t.Fatalf("entry %+v", e)
				}
				if len(e.RecordIDs) != tt.wantRecords {
					t.Fatalf("recordIds %v, emulator %d", e.RecordIDs, tt.wantRecords)
				}
				if st := r.emu.Stats(); st.Operations["execute"]+st.InjectedErrors != 1 {
					t.Fatalf("execute attempted %d times, want once", st.Operations["execute"]+st.InjectedErrors)
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

const opsSchema = `{"operations":[{"name":"new_Ping","kind":"action","response":{"pong":true}}]}`

// enreach.xrm.execute never retries on its own, whatever the operation and
// the error (Enreach documents no retry for it).
func TestExecuteNeverRetries(t *testing.T) {
	busy := func(status int) *protocol.FaultError {
		return &protocol.FaultError{Status: status, Code: "0x80040216", Message: "busy"}
	}
	tests := []struct {
		name     string
		op       map[string]any
		fault    protocol.FaultRule
		wantCode int64
	}{
		{"function after 503", map[string]any{"operationType": 1, "operationName": "WhoAmI"}, protocol.FaultRule{Method: "execute", Count: 1, Error: busy(503)}, protocol.CodeBackend},
		{"action after 429", map[string]any{"operationType": 0, "operationName": "new_Ping"}, protocol.FaultRule{Method: "execute", Count: 1, Error: busy(429)}, protocol.CodeBackend},
		{"function after 504", map[string]any{"operationType": 1, "operationName": "RetrieveVersion"}, protocol.FaultRule{Method: "execute", Error: busy(504)}, protocol.CodeBackend},
		{"action after a timeout", map[string]any{"operationType": 0, "operationName": "new_Ping"}, protocol.FaultRule{Method: "execute", LatencyMs: 400, Count: 1}, protocol.CodeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inRig(t, rigOptions{schema: opsSchema, faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{tt.fault}}}, func(t *testing.T, r *rig, c *client) {
				rep := c.call(protocol.MethodXrmExecute, map[string]any{"metaData": tt.op})
				wantCode(t, rep, tt.wantCode)
				if tt.fault.LatencyMs > 0 {
					r.waitOps("execute", 1)
				}
				st := r.emu.Stats()
				if got := st.InjectedErrors + st.Operations["execute"]; got != 1 {
					t.Fatalf("attempts %d, want 1 (stats %+v)", got, st)
				}
				// the widget's own second call is a fresh attempt and succeeds
				if rep := c.call(protocol.MethodXrmExecute, map[string]any{"metaData": tt.op}); tt.fault.Count == 1 && rep.Error != nil {
					t.Fatalf("second call: %+v", rep.Error)
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
