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
	e, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
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
		e, err := emulator.New(emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
			{Method: "createrecord", Count: 1, Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "busy"}},
			{Method: "createrecord", Count: 1, LatencyMs: 3000},
		}}})
		if err != nil {
			t.Fatal(err)
		}
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
