package retry_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// slowFirstCreate delays the first create past the 200 ms CIF timeout; it
// completes (or fails with failWith) at 400 ms. The scenarios run in a
// synctest bubble: those times are fake and exact, no test waits for them.
func slowFirstCreate(failWith *protocol.FaultError) *protocol.FaultProfile {
	return &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 400, Count: 1, Error: failWith}}}
}

func TestCreateTimeoutThenSuccessIsConfirmed(t *testing.T) {
	inRig(t, rigOptions{faults: slowFirstCreate(nil)}, func(t *testing.T, r *rig, c *client) {
		res, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"lastname": "Lovelace"}, "delay": 0})
		if rep.Error != nil {
			t.Fatalf("create: %+v", rep.Error)
		}
		if res.Attempts != 2 || !res.PossibleDuplicate || res.LedgerID == "" || res.EntityType != "contact" {
			t.Fatalf("result %+v", res)
		}
		// Committed before the reply, and still suspected: the slow create has
		// not finished yet.
		e := r.entry(res.LedgerID)
		if e.Status != protocol.LedgerSuspected || len(e.Attempts) != 2 || e.Attempts[0].Outcome != protocol.LedgerOutcomeTimeout ||
			e.Attempts[1].Outcome != protocol.LedgerOutcomeSuccess || !slices.Equal(e.RecordIDs, []string{res.ID}) || e.Session == "" || e.Key == "" {
			t.Fatalf("entry right after the reply: %+v", e)
		}
		got := c.ledgerNote(5*time.Second, func(e protocol.LedgerEntry) bool { return e.Status == protocol.LedgerConfirmed })
		if got.ID != res.LedgerID || len(got.RecordIDs) != 2 || !slices.Contains(got.RecordIDs, res.ID) {
			t.Fatalf("notification entry %+v", got)
		}
		// The late answer's bridge.late names the widget's call as well as the
		// attempt's, so a client can tell it from a raw cif.createrecord.
		c.mu.Lock()
		var late *protocol.LateParams
		for _, n := range c.notes {
			if n.Method == protocol.NotifyLate {
				late = new(protocol.LateParams)
				json.Unmarshal(n.Params, late)
			}
		}
		c.mu.Unlock()
		if late == nil || late.Method != protocol.MethodCreateRecord || late.WidgetMethod != protocol.MethodXrmCreateRecord {
			t.Fatalf("bridge.late %+v, want method %s for widget method %s", late, protocol.MethodCreateRecord, protocol.MethodXrmCreateRecord)
		}
		r.settle(2 * time.Second)
		e = r.entry(res.LedgerID)
		if e.Status != protocol.LedgerConfirmed || e.Attempts[0].Outcome != protocol.LedgerOutcomeLateSuccess || e.Attempts[0].RecordID == "" ||
			!slices.Contains(e.RecordIDs, e.Attempts[0].RecordID) || e.Attempts[0].LateByMs <= 0 {
			t.Fatalf("entry after the late answer: %+v", e)
		}
		if n := r.records("contact"); n != 2 {
			t.Fatalf("emulator holds %d contacts, want 2", n)
		}
		// Both ids really exist in the emulator.
		for _, id := range e.RecordIDs {
			if rep := c.call(protocol.MethodXrmRetrieveRecord, map[string]any{"entityLogicalName": "contact", "id": id}); rep.Error != nil {
				t.Fatalf("retrieve %s: %+v", id, rep.Error)
			}
		}
	})
}

func TestCreateTimeoutThenLateFailureIsCleared(t *testing.T) {
	inRig(t, rigOptions{faults: slowFirstCreate(&protocol.FaultError{Status: 500, Code: "0x80040216", Message: "An unexpected error occurred."})}, func(t *testing.T, r *rig, c *client) {
		res, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"lastname": "Hopper"}, "delay": 0})
		if rep.Error != nil || !res.PossibleDuplicate || res.Attempts != 2 {
			t.Fatalf("create: %+v %+v", res, rep.Error)
		}
		got := c.ledgerNote(5*time.Second, func(e protocol.LedgerEntry) bool { return e.Status == protocol.LedgerCleared })
		if !slices.Equal(got.RecordIDs, []string{res.ID}) || got.Attempts[0].Outcome != protocol.LedgerOutcomeLateFailure || got.Attempts[0].HTTPStatus != 500 {
			t.Fatalf("cleared entry %+v", got)
		}
		r.settle(2 * time.Second)
		if n := r.records("contact"); n != 1 {
			t.Fatalf("emulator holds %d contacts, want 1", n)
		}
	})
}

func TestIdempotentCreateLeavesOneRecord(t *testing.T) {
	tests := []struct {
		name       string
		delay      int  // 0: the retry lands first; 300: the slow attempt lands first (412 on the retry)
		serverFlag bool // idempotent by --idempotent-creates instead of the param
	}{
		{"retry lands first", 0, false},
		{"slow attempt lands first", 300, false},
		{"server default", 300, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inRig(t, rigOptions{faults: slowFirstCreate(nil), idempotent: tt.serverFlag}, func(t *testing.T, r *rig, c *client) {
				params := map[string]any{"entityLogicalName": "phonecall", "data": map[string]any{"subject": "call"}, "delay": tt.delay}
				if !tt.serverFlag {
					params["idempotent"] = true
				}
				res, rep := c.create(params)
				if rep.Error != nil {
					t.Fatalf("create: %+v", rep.Error)
				}
				if res.Attempts != 2 || res.PossibleDuplicate || res.LedgerID == "" {
					t.Fatalf("result %+v", res)
				}
				r.settle(2 * time.Second)
				e := r.entry(res.LedgerID)
				if e.Status != protocol.LedgerResolved || e.Key != res.ID || !slices.Equal(e.RecordIDs, []string{res.ID}) {
					t.Fatalf("entry %+v (result id %s)", e, res.ID)
				}
				if tt.delay > 0 && (e.Attempts[1].DataverseCode != "0x80040237" || e.Attempts[1].RecordID != res.ID) {
					t.Fatalf("the retry should have met 412/0x80040237: %+v", e.Attempts[1])
				}
				if n := r.records("phonecall"); n != 1 {
					t.Fatalf("emulator holds %d phonecalls, want 1", n)
				}
				// The key went into activityid, phonecall's primary key.
				rep = c.call(protocol.MethodXrmRetrieveRecord, map[string]any{"entityLogicalName": "phonecall", "id": res.ID, "options": "?$select=subject"})
				if rep.Error != nil || !strings.Contains(string(rep.Result), res.ID) {
					t.Fatalf("retrieve: %s %+v", rep.Result, rep.Error)
				}
			})
		})
	}
}

func TestIdempotentKeepsCallersKey(t *testing.T) {
	inRig(t, rigOptions{}, func(t *testing.T, r *rig, c *client) {
		key := "0b8f9d3e-3c1a-4c55-9a0e-6f1f2f5b7a10"
		res, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"contactid": strings.ToUpper(key), "lastname": "K"}, "idempotent": true})
		if rep.Error != nil || res.ID != key || res.Attempts != 1 || res.PossibleDuplicate || res.LedgerID != "" {
			t.Fatalf("create: %+v %+v", res, rep.Error)
		}
		// The same key again on attempt 1 is a real conflict, not a retry: 412 as is.
		_, rep = c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"contactid": key}, "idempotent": true})
		wantCode(t, rep, protocol.CodeBackend)
		if d, _ := protocol.BackendData(rep.Error); d.HTTPStatus != 412 {
			t.Fatalf("data %+v", d)
		}
		_, rep = c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"contactid": "not-a-guid"}, "idempotent": true})
		wantCode(t, rep, protocol.CodeInvalidParams)
	})
}

// A 412 on a retry means an earlier attempt landed only when an earlier
// attempt may have run. After a 503 (which proves attempt 1 did nothing)
// the key belongs to a record that was there before: a conflict, not a
// success with somebody else's record.
func TestIdempotentConflictAfterNotRunIsNoSuccess(t *testing.T) {
	inRig(t, rigOptions{}, func(t *testing.T, r *rig, c *client) {
		key := "0b8f9d3e-3c1a-4c55-9a0e-6f1f2f5b7a11"
		if _, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"contactid": key, "lastname": "first"}}); rep.Error != nil {
			t.Fatal(rep.Error)
		}
		r.emu.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", Count: 1, Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "busy"}}}})
		_, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"contactid": key, "lastname": "second"}, "idempotent": true, "delay": 0})
		if d := wantExhausted(t, rep); len(d.Attempts) != 2 || d.Attempts[1].HTTPStatus != 412 || d.LedgerID != "" {
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

func TestFirstAttemptSuccessWritesNothing(t *testing.T) {
	inRig(t, rigOptions{}, func(t *testing.T, r *rig, c *client) {
		res, rep := c.create(map[string]any{"entityLogicalName": "account", "data": `{"name":"Contoso"}`})
		if rep.Error != nil || res.Attempts != 1 || res.PossibleDuplicate || res.LedgerID != "" || res.ID == "" {
			t.Fatalf("create: %s %+v", rep.Result, rep.Error)
		}
		if !strings.Contains(string(rep.Result), `"possibleDuplicate":false`) {
			t.Fatalf("possibleDuplicate must be on the wire: %s", rep.Result)
		}
		if l, _ := r.ledger.List(context.Background(), ledger.Filter{}); len(l) != 0 {
			t.Fatalf("ledger has %d entries", len(l))
		}
	})
}

func TestAllAttemptsTimeOut(t *testing.T) {
	inRig(t, rigOptions{faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 400}}}}, func(t *testing.T, r *rig, c *client) {
		_, rep := c.create(map[string]any{"entityLogicalName": "lead", "data": map[string]any{"lastname": "L"}, "maxRetries": 1, "delay": 0})
		d := wantExhausted(t, rep)
		// Attempt 1 lands at 400 ms, about when attempt 2 times out: its late
		// answer may already be in.
		if len(d.Attempts) != 2 || (d.Attempts[0].Outcome != protocol.LedgerOutcomeTimeout && d.Attempts[0].Outcome != protocol.LedgerOutcomeLateSuccess) ||
			d.Attempts[1].Outcome != protocol.LedgerOutcomeTimeout || d.LedgerID == "" || d.LastError.Code != protocol.CodeTimeout {
			t.Fatalf("data %+v", d)
		}
		if !strings.Contains(rep.Error.Message, d.LedgerID) {
			t.Fatalf("message does not name the ledger entry: %q", rep.Error.Message)
		}
		if e := r.entry(d.LedgerID); e.Status != protocol.LedgerSuspected && e.Status != protocol.LedgerConfirmed {
			t.Fatalf("entry %+v", e)
		}
		// Both slow creates land: two records the widget never heard of.
		got := c.ledgerNote(5*time.Second, func(e protocol.LedgerEntry) bool {
			return e.Status == protocol.LedgerConfirmed && len(e.RecordIDs) == 2
		})
		r.settle(2 * time.Second)
		if n := r.records("lead"); n != 2 || got.ID != d.LedgerID {
			t.Fatalf("leads %d, entry %+v", n, got)
		}
	})
}

func TestLateExpiryIsExpiredUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, rigOptions{lateWindow: 300 * time.Millisecond,
			faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", Drop: true, Count: 1}}}})
		c := r.dial()
		res, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"lastname": "X"}, "delay": 0})
		if rep.Error != nil || !res.PossibleDuplicate {
			t.Fatalf("create %+v %+v", res, rep.Error)
		}
		got := c.ledgerNote(5*time.Second, func(e protocol.LedgerEntry) bool { return e.Status == protocol.LedgerExpiredUnknown })
		if got.Attempts[0].Outcome != protocol.LedgerOutcomeExpired {
			t.Fatalf("entry %+v", got)
		}
		r.settle(2 * time.Second)
		if n := r.records("contact"); n != 1 {
			t.Fatalf("contacts %d", n)
		}
	})
}

func TestRetryPolicyAgainstEmulator(t *testing.T) {
	fe := func(status int, code string) *protocol.FaultError {
		return &protocol.FaultError{Status: status, Code: code, Message: "injected " + code}
	}
	tests := []struct {
		name     string
		err      *protocol.FaultError
		attempts int64 // faults applied = attempts made
		code     int64
		ledger   bool // a gateway error leaves open whether the create ran
	}{
		{"503 retried", fe(503, "0x80040216"), 3, protocol.CodeRetriesExhausted, false},
		{"429 retried", fe(429, "0x80072322"), 3, protocol.CodeRetriesExhausted, false},
		{"504 retried and flagged", fe(504, "0x80040216"), 3, protocol.CodeRetriesExhausted, true},
		{"502 retried and flagged", fe(502, "0x80040216"), 3, protocol.CodeRetriesExhausted, true},
		{"400 validation not retried", fe(400, "0x80040203"), 1, protocol.CodeBackend, false},
		{"404 not retried", fe(404, "0x80040217"), 1, protocol.CodeBackend, false},
		{"duplicate detection not retried", fe(500, "0x80040333"), 1, protocol.CodeBackend, false},
		{"412 not retried", fe(412, "0x80040237"), 1, protocol.CodeBackend, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inRig(t, rigOptions{faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Error: tt.err}}}}, func(t *testing.T, r *rig, c *client) {
				_, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"lastname": "P"}, "maxRetries": 2, "delay": 1})
				wantCode(t, rep, tt.code)
				if n := r.emu.Stats().FaultsApplied; n != tt.attempts {
					t.Fatalf("attempts made = %d, want %d", n, tt.attempts)
				}
				if tt.code == protocol.CodeRetriesExhausted {
					d := wantExhausted(t, rep)
					if len(d.Attempts) != 3 || d.Attempts[2].HTTPStatus != tt.err.Status || (d.LedgerID != "") != tt.ledger {
						t.Fatalf("data %+v", d)
					}
					if tt.ledger {
						// Nothing will ever tell whether a gateway-failed create
						// ran: flagged for an operator, never confirmed.
						if e := r.entry(d.LedgerID); e.Status != protocol.LedgerExpiredUnknown || e.Attempts[0].Outcome != protocol.LedgerOutcomeUnknown || r.engine.Pending() != 0 {
							t.Fatalf("entry %+v, pending %d", e, r.engine.Pending())
						}
					}
				} else if d, _ := protocol.BackendData(rep.Error); d.DataverseCode != tt.err.Code {
					t.Fatalf("data %+v", d)
				}
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		// A genuine 404 from the store: exactly one operation.
		r := startRig(t, rigOptions{})
		c := r.dial()
		rep := c.call(protocol.MethodXrmRetrieveRecord, map[string]any{"entityLogicalName": "contact", "id": "6a1d3f0e-0000-4000-8000-000000000001", "delay": 1})
		wantCode(t, rep, protocol.CodeBackend)
		if n := r.ops("retrieverecord"); n != 1 {
			t.Fatalf("retrieverecord ran %d times", n)
		}
		rep = c.call(protocol.MethodXrmUpdateRecord, map[string]any{"entityLogicalName": "contact", "id": "6a1d3f0e-0000-4000-8000-000000000001", "data": map[string]any{"lastname": "x"}, "delay": 1})
		wantCode(t, rep, protocol.CodeBackend)
		if n := r.ops("updaterecord"); n != 1 {
			t.Fatalf("updaterecord ran %d times", n)
		}
	})
}

func TestUpdateAndRetrieveRetried(t *testing.T) {
	inRig(t, rigOptions{}, func(t *testing.T, r *rig, c *client) {
		created, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"firstname": "Ada", "lastname": "Lovelace"}})
		if rep.Error != nil {
			t.Fatal(rep.Error)
		}
		r.emu.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{
			{Method: "updaterecord", LatencyMs: 400, Count: 1},
			{Method: "retrieverecord", Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "busy"}, Count: 1},
		}})
		rep = c.call(protocol.MethodXrmUpdateRecord, map[string]any{"entityLogicalName": "contact", "id": created.ID, "data": map[string]any{"lastname": "King"}, "delay": 0})
		var up protocol.XrmUpdateResult
		if rep.Error != nil || json.Unmarshal(rep.Result, &up) != nil || up.Attempts != 2 || !up.PossiblyReapplied || up.ID != created.ID || up.EntityType != "contact" {
			t.Fatalf("update: %s %+v", rep.Result, rep.Error)
		}
		rep = c.call(protocol.MethodXrmRetrieveRecord, map[string]any{"entityLogicalName": "contact", "id": created.ID, "options": "?$select=lastname", "delay": 0})
		var rec map[string]any
		if rep.Error != nil || json.Unmarshal(rep.Result, &rec) != nil || rec["lastname"] != "King" {
			t.Fatalf("retrieve: %s %+v", rep.Result, rep.Error)
		}
		if n := r.ops("retrieverecord"); n != 1 { // the 503 never reached the store
			t.Fatalf("retrieverecord ops %d", n)
		}
		// No ledger for updates.
		if l, _ := r.ledger.List(context.Background(), ledger.Filter{}); len(l) != 0 {
			t.Fatalf("ledger entries %d", len(l))
		}
		time.Sleep(300 * time.Millisecond) // let the slow update finish before shutdown
	})
}

func TestBadInput(t *testing.T) {
	r := startRig(t, rigOptions{})
	c := r.dial()
	tests := []struct {
		name   string
		method string
		params string
		code   int64
		want   string
	}{
		{"entity wrong type", protocol.MethodXrmCreateRecord, `{"entityLogicalName":5,"data":{}}`, -32602, `"entityLogicalName" must be a JSON string`},
		{"data wrong type", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":[1]}`, -32602, `"data" must be a JSON object`},
		{"data missing", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact"}`, -32602, `"data" is missing`},
		{"missing entity", protocol.MethodXrmCreateRecord, `{"data":{"lastname":"x"}}`, -32602, `"entityLogicalName" is blank`},
		{"huge maxRetries", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{},"maxRetries":1000}`, -32602, `"maxRetries" must be between 0 and 20, got 1000`},
		{"negative maxRetries", protocol.MethodXrmUpdateRecord, `{"entityLogicalName":"contact","id":"x","data":{},"maxRetries":-1}`, -32602, `"maxRetries" must be between 0 and 20`},
		{"negative delay", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{},"delay":-1}`, -32602, `"delay" must be between 0 and 60000 ms, got -1`},
		{"huge delay", protocol.MethodXrmRetrieveRecord, `{"entityLogicalName":"contact","id":"x","delay":3600000}`, -32602, `"delay" must be between 0 and 60000 ms`},
		{"delay wrong type", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{},"delay":"1s"}`, -32602, `"delay" must be a JSON number`},
		{"idempotent wrong type", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{},"idempotent":"yes"}`, -32602, `"idempotent" must be a JSON boolean`},
		{"unknown field", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{},"retries":3}`, -32602, `unknown field "retries"`},
		{"params array", protocol.MethodXrmCreateRecord, `["contact",{}]`, -32602, "named members"},
		{"update without id", protocol.MethodXrmUpdateRecord, `{"entityLogicalName":"contact","data":{}}`, -32602, `"id" is blank`},
		{"retrieve without id", protocol.MethodXrmRetrieveRecord, `{"entityLogicalName":"contact"}`, -32602, `"id" is blank`},
		{"unknown entity", protocol.MethodXrmCreateRecord, `{"entityLogicalName":"nosuchentity","data":{}}`, 0, "nosuchentity"},
		{"unknown operation", protocol.MethodXrmExecute, `{"metaData":{"operationType":0,"operationName":"new_DoesNotExist"}}`, -32001, "new_DoesNotExist"},
		{"bad operationType", protocol.MethodXrmExecute, `{"metaData":{"operationType":7,"operationName":"WhoAmI"}}`, -32602, `"metaData.operationType" must be 0 (action), 1 (function) or 2 (CRUD), got 7`},
		{"blank operationName", protocol.MethodXrmExecute, `{"metaData":{"operationType":1}}`, -32602, `"metaData.operationName" is blank`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := c.callRaw(tt.method, json.RawMessage(tt.params))
			if rep.Error == nil || (tt.code != 0 && rep.Error.Code != tt.code) || !strings.Contains(rep.Error.Message, tt.want) {
				t.Fatalf("got %+v, want code %d with %q", rep.Error, tt.code, tt.want)
			}
			if tt.code == 0 && rep.Error.Code != -32602 && rep.Error.Code != -32001 {
				t.Fatalf("code %d", rep.Error.Code)
			}
		})
	}
	// Nothing was created, nothing was retried, and the connection still works.
	if n := r.emu.Stats().Operations["createrecord"]; n != 0 {
		t.Fatalf("createrecord ops %d", n)
	}
	res, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"lastname": "ok"}})
	if rep.Error != nil || res.ID == "" {
		t.Fatalf("after bad input: %+v", rep.Error)
	}
}
