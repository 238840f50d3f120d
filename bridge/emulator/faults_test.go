package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

func ratio(f float64) *float64 { return &f }

func createContact(ctx context.Context, e *emulator.Emulator, deadline time.Time) (json.RawMessage, error) {
	return e.Execute(ctx, &correlation.Attempt{Session: "s", ID: "a", Method: protocol.MethodCreateRecord,
		Params: json.RawMessage(`{"entityName":"contact","value":{"firstname":"Slow"}}`), Deadline: deadline})
}

func TestLatencyCompletesAfterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
			{Method: "createrecord", Entity: "contact", LatencyMs: 3000},
		}}})
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		res, err := createContact(ctx, e, start.Add(time.Second))
		if err != nil {
			t.Fatalf("delayed create failed: %v", err)
		}
		if took := time.Since(start); took != 3*time.Second {
			t.Fatalf("took %v, want exactly 3s of (fake) time", took)
		}
		if ctx.Err() == nil {
			t.Fatal("ctx should have expired during the latency")
		}
		if !strings.Contains(string(res), `"entityType":"contact"`) {
			t.Fatalf("result = %s", res)
		}
		st := e.Stats()
		if st.Tables["contact"].Records != 1 || st.Operations["createrecord"] != 1 || st.LateCompletions != 1 || st.Delayed != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestLatencyConcurrentCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
			{Method: "*", Latency: &protocol.Dist{Kind: "uniform", MinMs: 100, MaxMs: 20000}},
		}}})
		deadline := time.Now().Add(10 * time.Second)
		done := make(chan error, 20)
		for range 20 {
			go func() {
				_, err := createContact(t.Context(), e, deadline)
				done <- err
			}()
		}
		for range 20 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		st := e.Stats()
		if st.Tables["contact"].Records != 20 || st.LateCompletions == 0 || st.LateCompletions == 20 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestFaultCount(t *testing.T) {
	e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
		{Method: "createrecord", Count: 1, Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "Service unavailable"}},
	}}})
	var errs int
	for range 3 {
		if _, err := createContact(t.Context(), e, time.Time{}); err != nil {
			checkErr(t, err, &wantErr{rpc: protocol.CodeBackend, status: 503, code: "0x80040216", msg: "Service unavailable"})
			errs++
		}
	}
	st := e.Stats()
	if errs != 1 || st.Operations["createrecord"] != 2 || st.Tables["contact"].Records != 2 || st.InjectedErrors != 1 || st.FaultsApplied != 1 {
		t.Fatalf("errs=%d stats=%+v", errs, st)
	}
}

func TestFaultEntityAndOrder(t *testing.T) {
	e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
		{Method: "createrecord", Entity: "account", Error: &protocol.FaultError{Status: 429, Code: "0x80072322", Message: "throttled"}},
		{Method: "*", Error: &protocol.FaultError{Status: 500, Code: "0x80040216", Message: "generic"}},
	}}})
	_, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "account", "value": map[string]any{"name": "a"}})
	checkErr(t, err, &wantErr{rpc: protocol.CodeBackend, status: 429, code: "0x80072322"})
	_, err = createContact(t.Context(), e, time.Time{})
	checkErr(t, err, &wantErr{rpc: protocol.CodeBackend, status: 500, code: "0x80040216"})
	if ops := e.Stats().Operations; len(ops) != 0 {
		t.Fatalf("operations = %v, want none executed", ops)
	}
}

func TestFaultRatioDeterministic(t *testing.T) {
	run := func(seed int64) string {
		e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Seed: seed, Rules: []protocol.FaultRule{
			{Method: "createrecord", Ratio: ratio(0.5), Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "x"}},
		}}})
		var b strings.Builder
		for range 64 {
			if _, err := createContact(t.Context(), e, time.Time{}); err != nil {
				b.WriteByte('E')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b, c := run(42), run(42), run(7)
	if a != b {
		t.Fatalf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatalf("different seeds gave the same 64 outcomes: %s", a)
	}
	if n := strings.Count(a, "E"); n < 16 || n > 48 {
		t.Fatalf("ratio 0.5 gave %d/64 errors: %s", n, a)
	}
}

func TestFaultDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", Drop: true}}}})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := createContact(ctx, e, time.Time{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took != 10*time.Second {
			t.Fatalf("returned after %v, want when ctx ended (10s)", took)
		}
		st := e.Stats()
		if st.Dropped != 1 || st.Tables["contact"].Records != 0 || st.Operations["createrecord"] != 0 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestFaultErrorAfterLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
			{Method: "retrieverecord", LatencyMs: 500, Error: &protocol.FaultError{Status: 404, Code: "0x80040217", Message: "gone"}},
		}}})
		start := time.Now()
		_, err := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": adaID})
		checkErr(t, err, &wantErr{rpc: protocol.CodeBackend, status: 404, code: "0x80040217", msg: "gone"})
		if time.Since(start) != 500*time.Millisecond {
			t.Fatalf("took %v", time.Since(start))
		}
	})
}

// TestFaultRetryAfter: an injected 429 with retryAfterMs carries it as
// Dataverse's service protection does, a Retry-After header in whole
// seconds on the Web API face, and data.retryAfterMs on the CIF path; one
// without retryAfterMs carries neither.
func TestFaultRetryAfter(t *testing.T) {
	const msg = "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
	e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
		{Method: "createrecord", Entity: "contact", Error: &protocol.FaultError{Status: 429, Code: "0x80072322", Message: msg, RetryAfterMs: 1500}},
		{Method: "createrecord", Entity: "account", Error: &protocol.FaultError{Status: 429, Code: "0x80072322", Message: msg}},
	}}})
	srv := newWebServer(t, e)
	for set, want := range map[string]string{"contacts": "2", "accounts": ""} {
		res := send(t, srv, "POST", "/api/data/v9.2/"+set, "application/json", strings.NewReader(`{}`))
		res.Body.Close()
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != want {
			t.Errorf("%s: %d Retry-After %q, want 429 %q", set, res.StatusCode, res.Header.Get("Retry-After"), want)
		}
	}
	for entity, want := range map[string]int64{"contact": 1500, "account": 0} {
		_, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": entity, "value": map[string]any{}})
		if d, ok := protocol.BackendData(err); !ok || d.HTTPStatus != 429 || d.DataverseCode != "0x80072322" || d.RetryAfterMs != want || d.Value.ErrorMsg != msg {
			t.Errorf("%s: %v, want 429 with retryAfterMs %d", entity, err, want)
		}
	}
}

func TestFaultDistributions(t *testing.T) {
	for _, d := range []protocol.Dist{
		{Kind: "uniform", MinMs: 10, MaxMs: 20},
		{Kind: "normal", MeanMs: 15, StddevMs: 3, MinMs: 10, MaxMs: 20},
		{Kind: "exponential", MeanMs: 5, MinMs: 10, MaxMs: 20},
	} {
		t.Run(d.Kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Seed: 3, Rules: []protocol.FaultRule{{Method: "getmode", Latency: &d}}}})
				for range 50 {
					start := time.Now()
					if _, err := call(e, protocol.MethodGetMode, nil); err != nil {
						t.Fatal(err)
					}
					if took := time.Since(start); took < 10*time.Millisecond || took > 20*time.Millisecond {
						t.Fatalf("latency %v outside 10..20ms", took)
					}
				}
			})
		})
	}
}

func TestFaultValidation(t *testing.T) {
	tests := []struct {
		name string
		p    protocol.FaultProfile
		want string
	}{
		{name: "ok", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*"}, {Method: "createRecord"}}}},
		{name: "method required", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*"}, {Method: "*"}, {}}}, want: "rules[2].method is required"},
		{name: "unknown method", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "create"}}}, want: `rules[0].method "create" is not a known method`},
		{name: "ratio", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Ratio: ratio(1.5)}}}, want: "rules[0].ratio must be between 0 and 1"},
		{name: "latency", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", LatencyMs: -1}}}, want: "rules[0].latencyMs"},
		{name: "count", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Count: -1}}}, want: "rules[0].count"},
		{name: "dist kind", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Latency: &protocol.Dist{Kind: "pareto"}}}}, want: "rules[0].latency.kind"},
		{name: "dist range", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Latency: &protocol.Dist{Kind: "uniform", MinMs: 5, MaxMs: 1}}}}, want: "rules[0].latency.maxMs"},
		{name: "error status", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Error: &protocol.FaultError{Status: 200, Code: "x", Message: "y"}}}}, want: "rules[0].error.status"},
		{name: "error code", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Error: &protocol.FaultError{Status: 500, Message: "y"}}}}, want: "rules[0].error.code is required"},
		{name: "error and drop", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Drop: true, Error: &protocol.FaultError{Status: 500, Code: "x", Message: "y"}}}}, want: "error and drop"},
		{name: "retry after", p: protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "*", Error: &protocol.FaultError{Status: 429, Code: "x", Message: "y", RetryAfterMs: -1}}}}, want: "rules[0].error.retryAfterMs must be between 0 and 3600000, got -1"},
	}
	e := newEmulator(t, emulator.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.SetFaults(tt.p)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
	_, err := emulator.New(emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{}}}})
	if err == nil || !strings.HasPrefix(err.Error(), "faults: rules[0].method is required") {
		t.Fatalf("New err = %v", err)
	}
}

func TestFaultProfileJSON(t *testing.T) {
	const in = `{"seed":1,"rules":[{"method":"createrecord","entity":"contact","latencyMs":3000,"ratio":1,"count":1,"error":{"status":503,"code":"0x80040216","message":"busy"},"drop":false}]}`
	var p protocol.FaultProfile
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	e := newEmulator(t, emulator.Config{})
	if err := e.SetFaults(p); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(e.Faults())
	const want = `{"seed":1,"rules":[{"method":"createrecord","entity":"contact","latencyMs":3000,"ratio":1,"count":1,"error":{"status":503,"code":"0x80040216","message":"busy"}}]}`
	if string(got) != want {
		t.Fatalf("round trip:\n got %s\nwant %s", got, want)
	}
}

// TestParseFaultProfile: JSON decoding refuses unknown fields and trailing
// data, then validates.
func TestParseFaultProfile(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"valid", `{"seed":1,"rules":[{"method":"createrecord","latencyMs":5}]}`, ""},
		{"unknown field", `{"rules":[],"sede":1}`, "unknown field"},
		{"trailing data", `{"rules":[]} {}`, "trailing data"},
		{"invalid rule", `{"rules":[{"method":"createrecord","count":-1}]}`, "count must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := emulator.ParseFaultProfile([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil || p == nil || len(p.Rules) != 1 || p.Rules[0].LatencyMs != 5 {
					t.Fatalf("ParseFaultProfile = %+v, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

// A late injected error is a late answer (the bridge sends bridge.late for
// it), so LateCompletions counts it: the load tool's ground truth compares
// the two. A drop never answers and is not counted.
func TestLateInjectedErrorIsALateCompletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(t, emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{
			{Method: "createrecord", LatencyMs: 3000, Count: 1, Error: &protocol.FaultError{Status: 503, Code: "0x80072321", Message: "unavailable"}},
			{Method: "createrecord", LatencyMs: 500, Count: 1, Error: &protocol.FaultError{Status: 503, Code: "0x80072321", Message: "unavailable"}},
			{Method: "createrecord", Drop: true, Count: 1},
		}}})
		deadline := time.Now().Add(time.Second)
		if _, err := createContact(t.Context(), e, deadline); err == nil {
			t.Fatal("late injected error: no error")
		}
		if _, err := createContact(t.Context(), e, time.Now().Add(time.Second)); err == nil {
			t.Fatal("timely injected error: no error")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		if _, err := createContact(ctx, e, time.Now().Add(time.Second)); err == nil {
			t.Fatal("drop: no error")
		}
		if st := e.Stats(); st.LateCompletions != 1 || st.InjectedErrors != 2 || st.Operations["createrecord"] != 0 {
			t.Fatalf("stats = %+v, want one late completion (the late injected error)", st)
		}
	})
}
