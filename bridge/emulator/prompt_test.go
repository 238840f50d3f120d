package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

var _ backend.Prompt = (*emulator.Emulator)(nil)

// Prompt promises an answer at once for the store's bounded operations, and
// only while no fault rule may delay or drop one.
func TestPrompt(t *testing.T) {
	e := newEmulator(t, emulator.Config{})
	ratio := 0.5
	steps := []struct {
		name  string
		rules []protocol.FaultRule
		want  map[string]bool
	}{
		{"no faults", nil, map[string]bool{
			protocol.MethodCreateRecord: true, protocol.MethodRetrieveRecord: true, protocol.MethodUpdateRecord: true,
			protocol.MethodDeleteRecord: true, protocol.MethodGetEnvironment: true, protocol.MethodSearch: false,
			protocol.BackendExecute: false, "cif.nosuchmethod": false,
		}},
		{"an error rule answers at once too", []protocol.FaultRule{{Method: "*", Error: &protocol.FaultError{Status: 503, Code: "0x1", Message: "busy"}}},
			map[string]bool{protocol.MethodCreateRecord: true}},
		{"a latency rule, even for another method", []protocol.FaultRule{{Method: "search", LatencyMs: 5}},
			map[string]bool{protocol.MethodCreateRecord: false, protocol.MethodRetrieveRecord: false}},
		{"a latency distribution", []protocol.FaultRule{{Method: "createrecord", Ratio: &ratio, Latency: &protocol.Dist{Kind: "uniform", MinMs: 1, MaxMs: 2}}},
			map[string]bool{protocol.MethodCreateRecord: false}},
		{"a drop", []protocol.FaultRule{{Method: "createrecord", Drop: true, Count: 1}},
			map[string]bool{protocol.MethodCreateRecord: false}},
		{"faults cleared", nil, map[string]bool{protocol.MethodCreateRecord: true}},
	}
	for _, st := range steps {
		if err := e.SetFaults(protocol.FaultProfile{Rules: st.rules}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for method, want := range st.want {
			if got := e.Prompt(method); got != want {
				t.Errorf("%s: Prompt(%s) = %v, want %v", st.name, method, got, want)
			}
		}
	}
}

// Begin answers at once when no rule makes the operation wait (an injected
// error included); a delayed operation comes back as the rest, not run
// yet, with its fault decision taken: the rest waits the latency, then
// creates the record.
func TestBeginHandsBackWhatMustWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
			{Method: "createrecord", Count: 1, Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "busy"}},
			{Method: "createrecord", Count: 1, LatencyMs: 3000},
		}}})
		create := func() *correlation.Attempt {
			return &correlation.Attempt{ID: "a", Method: protocol.MethodCreateRecord,
				Params: json.RawMessage(`{"entityName":"contact","value":{"firstname":"Ada"}}`)}
		}
		ctx := context.Background()

		res, err, rest := e.Begin(ctx, create())
		var pe *protocol.Error
		if rest != nil || !errors.As(err, &pe) || pe.Code != protocol.CodeBackend || res != nil {
			t.Fatalf("injected error: %s, %v, rest %v; want -32001 at once", res, err, rest != nil)
		}

		_, err, rest = e.Begin(ctx, create())
		if rest == nil || err != nil {
			t.Fatalf("delayed create: err %v, rest %v; want the rest handed back", err, rest != nil)
		}
		if n := e.Stats().Tables["contact"].Records; n != 0 {
			t.Fatalf("%d records before the rest ran", n)
		}
		start := time.Now()
		res, err = rest(ctx, create())
		if err != nil || len(res) == 0 || time.Since(start) != 3*time.Second {
			t.Fatalf("rest = %s, %v after %v; want the create after 3s", res, err, time.Since(start))
		}

		res, err, rest = e.Begin(ctx, create())
		if rest != nil || err != nil || len(res) == 0 {
			t.Fatalf("create without a rule left: %s, %v, rest %v", res, err, rest != nil)
		}
		if st := e.Stats(); st.Tables["contact"].Records != 2 || st.Delayed != 1 || st.InjectedErrors != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// createdOn retrieves the contact a create answered res for and returns
// its createdon, which a create sets equal to its modifiedon.
func createdOn(t *testing.T, e *emulator.Emulator, res json.RawMessage) string {
	t.Helper()
	var c protocol.CreateResult
	if err := json.Unmarshal(res, &c); err != nil {
		t.Fatal(err)
	}
	rec, err := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": c.ID,
		"queryParameters": "?$select=createdon,modifiedon"})
	if err != nil {
		t.Fatal(err)
	}
	var row struct{ CreatedOn, ModifiedOn string }
	if err := json.Unmarshal(rec, &row); err != nil {
		t.Fatal(err)
	}
	if row.CreatedOn != row.ModifiedOn {
		t.Fatalf("createdon %s, modifiedon %s", row.CreatedOn, row.ModifiedOn)
	}
	return row.CreatedOn
}

// A call Begin answers at once on the real clock reads it once: after the
// operation, into a.Answered, which its late count uses (as the bridge's
// deadline check and metrics then do); its record's createdon and
// modifiedon are a.Started, when the call was received. Execute, whose
// attempt others read meanwhile, leaves the attempt as it is and reads the
// clock.
func TestBeginReadsTheClockOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(t, emulator.Config{})
		ctx := context.Background()
		params := json.RawMessage(`{"entityName":"contact","value":{"firstname":"Ada"}}`)

		received := time.Now()
		time.Sleep(3 * time.Second) // the call was received 3 s ago, its deadline 1 s ago
		a := &correlation.Attempt{ID: "a", Method: protocol.MethodCreateRecord, Params: params,
			Started: received, Deadline: received.Add(2 * time.Second)}
		res, err, rest := e.Begin(ctx, a)
		if err != nil || rest != nil {
			t.Fatalf("Begin: %v, rest %v", err, rest != nil)
		}
		if !a.Answered.Equal(time.Now()) {
			t.Errorf("Answered = %v, want the clock's %v", a.Answered, time.Now())
		}
		if got, want := createdOn(t, e, res), received.UTC().Format(time.RFC3339); got != want {
			t.Errorf("createdon %s, want the call's time %s", got, want)
		}
		if n := e.Stats().LateCompletions; n != 1 {
			t.Errorf("%d late completions after an answer 1 s past its deadline, want 1", n)
		}

		// In time: not late.
		a = &correlation.Attempt{ID: "b", Method: protocol.MethodCreateRecord, Params: params,
			Started: time.Now(), Deadline: time.Now().Add(time.Second)}
		if _, err, _ := e.Begin(ctx, a); err != nil || a.Answered.IsZero() {
			t.Fatalf("Begin: %v, Answered %v", err, a.Answered)
		}
		if n := e.Stats().LateCompletions; n != 1 {
			t.Errorf("%d late completions, want still 1", n)
		}

		// Execute: the attempt untouched, createdon from the clock.
		a = &correlation.Attempt{ID: "c", Method: protocol.MethodCreateRecord, Params: params,
			Started: received, Deadline: received.Add(2 * time.Second)}
		res, err = e.Execute(ctx, a)
		if err != nil || !a.Answered.IsZero() {
			t.Fatalf("Execute: %v, Answered %v; want no Answered", err, a.Answered)
		}
		if got, want := createdOn(t, e, res), time.Now().UTC().Format(time.RFC3339); got != want {
			t.Errorf("Execute's createdon %s, want the clock's %s", got, want)
		}
		if n := e.Stats().LateCompletions; n != 2 {
			t.Errorf("%d late completions, want 2", n)
		}
	})
}

// On an injected clock (Config.Now) Begin leaves a.Answered to the
// bridge's clock, and createdon and the late count follow the injected one.
func TestBeginOnAnInjectedClock(t *testing.T) {
	clock := time.Now().Add(2 * time.Hour).Truncate(time.Second) // past the deadline
	e := newEmulator(t, emulator.Config{Now: func() time.Time { return clock }})
	started := time.Now()
	a := &correlation.Attempt{ID: "a", Method: protocol.MethodCreateRecord,
		Params:  json.RawMessage(`{"entityName":"contact","value":{"firstname":"Ada"}}`),
		Started: started, Deadline: started.Add(time.Hour)}
	res, err, rest := e.Begin(context.Background(), a)
	if err != nil || rest != nil || !a.Answered.IsZero() {
		t.Fatalf("Begin: %v, rest %v, Answered %v; want no Answered", err, rest != nil, a.Answered)
	}
	if got := createdOn(t, e, res); got != clock.UTC().Format(time.RFC3339) {
		t.Errorf("createdon %s, want the injected clock's", got)
	}
	if n := e.Stats().LateCompletions; n != 1 {
		t.Errorf("%d late completions, want 1 (the injected clock's view)", n)
	}
}
