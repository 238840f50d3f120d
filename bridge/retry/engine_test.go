package retry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/ledgertest"
	"github.com/cifbridge/cifbridge/bridge/retry"
	"github.com/cifbridge/cifbridge/protocol"
)

// fakeBridge answers attempts from a script and records when they ran. Like
// the bridge, it keeps a late record for every attempt that timed out: their
// answers come through late.
type fakeBridge struct {
	script func(n int, id string, a correlation.Attempt) (json.RawMessage, error)

	mu     sync.Mutex
	times  []time.Time
	onLate map[string]func(correlation.Late)
	notes  []protocol.LedgerParams
}

func (f *fakeBridge) Attempt(ctx context.Context, sess *bridge.Session, a correlation.Attempt) (json.RawMessage, correlation.Sent, error) {
	f.mu.Lock()
	n := len(f.times)
	f.times = append(f.times, time.Now())
	id := fmt.Sprintf("at-%d", n+1)
	if f.onLate == nil {
		f.onLate = map[string]func(correlation.Late){}
	}
	f.onLate[id] = a.OnLate
	f.mu.Unlock()
	res, err := f.script(n, id, a)
	return res, correlation.Sent{ID: id, Late: errors.Is(err, protocol.ErrTimeout)}, err
}

func (f *fakeBridge) Notify(session, method string, params any) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := params.(protocol.LedgerParams); ok && method == protocol.NotifyLedger {
		f.notes = append(f.notes, p)
	}
	return true
}

func (f *fakeBridge) late(id string, l correlation.Late) {
	f.mu.Lock()
	h := f.onLate[id]
	f.mu.Unlock()
	l.Info.ID = id
	h(l)
}

func (f *fakeBridge) gaps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(f.times); i++ {
		out = append(out, f.times[i].Sub(f.times[i-1]))
	}
	return out
}

func newEngine(t *testing.T, fb *fakeBridge) (*retry.Engine, *ledger.Ledger) {
	t.Helper()
	l := ledgertest.New(t)
	e, err := retry.New(retry.Config{Bridge: fb, Ledger: l})
	if err != nil {
		t.Fatal(err)
	}
	return e, l
}

// fakeCreate runs a createRecord (delay 0) on eng and returns its result.
func fakeCreate(t *testing.T, eng *retry.Engine) protocol.XrmCreateResult {
	t.Helper()
	res, err := eng.CreateRecord(context.Background(), widgetCall(protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{},"delay":0}`))
	if err != nil {
		t.Fatal(err)
	}
	var out protocol.XrmCreateResult
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func widgetCall(method, params string) bridge.WidgetCall {
	return bridge.WidgetCall{Session: &bridge.Session{ID: "s1"}, RequestID: json.RawMessage("7"), Method: method, Params: json.RawMessage(params)}
}

func backendErr(status int, retryAfterMs int64) error {
	return protocol.NewError(protocol.CodeBackend, "busy", protocol.BackendErrorData{HTTPStatus: status, DataverseCode: "0x80040216", ErrorMsg: "busy", RetryAfterMs: retryAfterMs})
}

func created(id string) json.RawMessage {
	return json.RawMessage(`{"entityType":"contact","id":"` + id + `"}`)
}

// timesOutThenCreates is a backend whose first k attempts time out (200 ms
// CIF timeout) and whose next one creates the record id.
func timesOutThenCreates(k int, id string) *fakeBridge {
	return &fakeBridge{script: func(n int, attempt string, _ correlation.Attempt) (json.RawMessage, error) {
		if n < k {
			return nil, protocol.NewTimeoutError(200, attempt)
		}
		return created(id), nil
	}}
}

func TestDelayBetweenAttempts(t *testing.T) {
	tests := []struct {
		name         string
		params       string
		retryAfterMs int64
		wantGaps     []time.Duration
	}{
		{"default 1000 ms", `{"entityLogicalName":"contact","data":{}}`, 0, []time.Duration{time.Second, time.Second, time.Second}},
		{"fixed delay", `{"entityLogicalName":"contact","data":{},"maxRetries":2,"delay":2500}`, 0, []time.Duration{2500 * time.Millisecond, 2500 * time.Millisecond}},
		{"no delay", `{"entityLogicalName":"contact","data":{},"maxRetries":1,"delay":0}`, 0, []time.Duration{0}},
		{"Retry-After longer wins", `{"entityLogicalName":"contact","data":{},"maxRetries":2,"delay":1000}`, 4000, []time.Duration{4 * time.Second, 4 * time.Second}},
		{"delay longer wins", `{"entityLogicalName":"contact","data":{},"maxRetries":1,"delay":3000}`, 500, []time.Duration{3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &fakeBridge{script: func(int, string, correlation.Attempt) (json.RawMessage, error) {
				return nil, backendErr(503, tt.retryAfterMs)
			}}
			eng, _ := newEngine(t, fb)
			synctest.Test(t, func(t *testing.T) {
				_, err := eng.CreateRecord(context.Background(), widgetCall(protocol.MethodXrmCreateRecord, tt.params))
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Code != protocol.CodeRetriesExhausted {
					t.Fatalf("err = %v", err)
				}
				if got := fb.gaps(); fmt.Sprint(got) != fmt.Sprint(tt.wantGaps) {
					t.Fatalf("gaps %v, want %v", got, tt.wantGaps)
				}
			})
		})
	}
}

func TestDelayEndsWithCaller(t *testing.T) {
	fb := &fakeBridge{script: func(int, string, correlation.Attempt) (json.RawMessage, error) { return nil, backendErr(503, 0) }}
	eng, _ := newEngine(t, fb)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(1500*time.Millisecond, func() { cancel(errors.New("widget went away")) })
		start := time.Now()
		_, err := eng.UpdateRecord(ctx, widgetCall(protocol.MethodXrmUpdateRecord, `{"entityLogicalName":"contact","id":"x","data":{},"delay":1000}`))
		if err == nil || time.Since(start) != 1500*time.Millisecond || len(fb.gaps()) != 1 {
			t.Fatalf("err %v after %v, %d attempts", err, time.Since(start), len(fb.gaps())+1)
		}
	})
}

// A late answer can arrive before the attempt that timed out has even
// returned, and while later attempts still run: nothing may be lost.
func TestLateAnswerRaces(t *testing.T) {
	timeout := func(id string) error { return protocol.NewTimeoutError(200, id) }
	t.Run("before the attempt returns", func(t *testing.T) {
		var fb *fakeBridge
		fb = &fakeBridge{script: func(n int, id string, a correlation.Attempt) (json.RawMessage, error) {
			if n == 0 {
				fb.late(id, correlation.Late{Result: created("aaaaaaaa-0000-4000-8000-000000000001"), LateBy: time.Millisecond})
				return nil, timeout(id)
			}
			return created("aaaaaaaa-0000-4000-8000-000000000002"), nil
		}}
		eng, l := newEngine(t, fb)
		out := fakeCreate(t, eng)
		e, err := l.Get(context.Background(), out.LedgerID)
		if err != nil || e.Status != protocol.LedgerConfirmed || len(e.RecordIDs) != 2 || !out.PossibleDuplicate {
			t.Fatalf("entry %+v %v (result %+v)", e, err, out)
		}
		if eng.Pending() != 0 || len(fb.notes) != 1 {
			t.Fatalf("pending %d, notes %d", eng.Pending(), len(fb.notes))
		}
	})
	t.Run("while a later attempt runs", func(t *testing.T) {
		var fb *fakeBridge
		fb = &fakeBridge{script: func(n int, id string, a correlation.Attempt) (json.RawMessage, error) {
			switch n {
			case 0, 1:
				return nil, timeout(id)
			}
			// Attempt 1 fails late and attempt 2 lands late, both during attempt 3.
			fb.late("at-1", correlation.Late{Err: backendErr(500, 0), LateBy: time.Millisecond})
			fb.late("at-2", correlation.Late{Result: created("bbbbbbbb-0000-4000-8000-000000000002")})
			return created("bbbbbbbb-0000-4000-8000-000000000003"), nil
		}}
		eng, l := newEngine(t, fb)
		out := fakeCreate(t, eng)
		e, _ := l.Get(context.Background(), out.LedgerID)
		if e.Status != protocol.LedgerConfirmed || len(e.RecordIDs) != 2 || e.Attempts[0].Outcome != protocol.LedgerOutcomeLateFailure ||
			e.Attempts[1].Outcome != protocol.LedgerOutcomeLateSuccess || out.Attempts != 3 {
			t.Fatalf("entry %+v", e)
		}
	})
	t.Run("after the reply, in any order", func(t *testing.T) {
		fb := timesOutThenCreates(2, "cccccccc-0000-4000-8000-000000000003")
		eng, l := newEngine(t, fb)
		out := fakeCreate(t, eng)
		get := func() protocol.LedgerEntry { e, _ := l.Get(context.Background(), out.LedgerID); return e }
		if e := get(); e.Status != protocol.LedgerSuspected || eng.Pending() != 1 {
			t.Fatalf("entry %+v pending %d", e, eng.Pending())
		}
		fb.late("at-2", correlation.Late{Err: backendErr(500, 0)})
		if e := get(); e.Status != protocol.LedgerSuspected {
			t.Fatalf("one attempt still pending: %+v", e)
		}
		// The other one never answers: expired-unknown, not dropped.
		fb.late("at-1", correlation.Late{Expired: true, Err: context.DeadlineExceeded})
		if e := get(); e.Status != protocol.LedgerExpiredUnknown || e.Attempts[0].Outcome != protocol.LedgerOutcomeExpired || eng.Pending() != 0 {
			t.Fatalf("entry %+v", e)
		}
		if len(fb.notes) != 2 {
			t.Fatalf("notifications %d, want 2", len(fb.notes))
		}
	})
	t.Run("acknowledged stays unless new records turn up", func(t *testing.T) {
		fb := timesOutThenCreates(2, "dddddddd-0000-4000-8000-000000000003")
		eng, l := newEngine(t, fb)
		out := fakeCreate(t, eng)
		ledger.Acknowledge(context.Background(), l, out.LedgerID, "seen")
		fb.late("at-1", correlation.Late{Err: backendErr(500, 0)})
		if e, _ := l.Get(context.Background(), out.LedgerID); e.Status != protocol.LedgerAcknowledged || e.Attempts[0].Outcome != protocol.LedgerOutcomeLateFailure {
			t.Fatalf("entry %+v", e)
		}
		fb.late("at-2", correlation.Late{Result: created("dddddddd-0000-4000-8000-000000000002")})
		if e, _ := l.Get(context.Background(), out.LedgerID); e.Status != protocol.LedgerConfirmed || len(e.RecordIDs) != 2 {
			t.Fatalf("entry %+v", e)
		}
	})
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"timeout", protocol.NewTimeoutError(10000, "a"), true},
		{"no backend", protocol.Errorf(protocol.CodeNoBackend, "host gone"), true},
		{"no host peer", protocol.NewNoBackendError(false, "no host"), true},
		{"host gone with the call", protocol.NewNoBackendError(true, "host gone"), true},
		{"overloaded", protocol.Errorf(protocol.CodeOverloaded, "busy"), true},
		{"429", backendErr(429, 0), true},
		{"502", backendErr(502, 0), true},
		{"503", backendErr(503, 0), true},
		{"504", backendErr(504, 0), true},
		{"500", backendErr(500, 0), false},
		{"404 not found", protocol.NewBackendError(404, "0x80040217", "contact With Id = x Does Not Exist", "", ""), false},
		{"duplicate rule", protocol.NewBackendError(500, "0x80040333", "dup", "", ""), false},
		{"duplicate key", protocol.NewBackendError(412, "0x80040237", "dup key", "", ""), false},
		{"invalid params", protocol.InvalidParams("x"), false},
		{"shutting down", protocol.Errorf(protocol.CodeShuttingDown, "bye"), false},
		{"plain error", errors.New("boom"), false},
		{"wrapped timeout", fmt.Errorf("attempt: %w", protocol.NewTimeoutError(1, "a")), true},
	}
	for _, tt := range tests {
		if got := retry.Retryable(tt.err); got != tt.want {
			t.Errorf("%s: Retryable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNotRun(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"overloaded", protocol.Errorf(protocol.CodeOverloaded, "busy"), true},
		{"429", backendErr(429, 0), true},
		{"503", backendErr(503, 0), true},
		{"timeout", protocol.NewTimeoutError(10000, "a"), false},
		{"host gone", protocol.Errorf(protocol.CodeNoBackend, "host gone"), false},
		{"host gone with the call", protocol.NewNoBackendError(true, "host gone"), false},
		{"no host peer: never sent", protocol.NewNoBackendError(false, "no host"), true},
		{"502", backendErr(502, 0), false},
		{"504", backendErr(504, 0), false},
		{"500", backendErr(500, 0), false},
		{"429 duplicate rule", protocol.NewBackendError(429, "0x80040333", "dup", "", ""), false},
		{"plain error", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := retry.NotRun(tt.err); got != tt.want {
			t.Errorf("%s: NotRun = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Retry-After is read from error.data.retryAfterMs whatever the code: a
// host peer's or upstream's -32003 may carry it as well as a backend 429.
func TestRetryAfterOnOverloaded(t *testing.T) {
	fb := &fakeBridge{script: func(n int, id string, a correlation.Attempt) (json.RawMessage, error) {
		if n == 0 {
			return nil, protocol.NewError(protocol.CodeOverloaded, "rate limited", map[string]int64{"retryAfterMs": 2500})
		}
		return json.RawMessage(`{"contactid":"x"}`), nil
	}}
	eng, _ := newEngine(t, fb)
	synctest.Test(t, func(t *testing.T) {
		if _, err := eng.RetrieveRecord(context.Background(), widgetCall(protocol.MethodXrmRetrieveRecord, `{"entityLogicalName":"contact","id":"x","delay":1000}`)); err != nil {
			t.Fatal(err)
		}
		if got := fb.gaps(); fmt.Sprint(got) != fmt.Sprint([]time.Duration{2500 * time.Millisecond}) {
			t.Fatalf("gaps %v", got)
		}
	})
}

// A late answer that is itself "I do not know" (a timeout from the backend
// behind the host, or the host gone with the attempt in its hands) is no
// failure: the create may have run, so the entry must not be cleared.
func TestLateUnknownIsNotCleared(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"late timeout", protocol.NewTimeoutError(10000, "host-side")},
		{"late host gone", protocol.Errorf(protocol.CodeNoBackend, "the host peer h disconnected before answering")},
		{"late gateway timeout", backendErr(504, 0)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fb := timesOutThenCreates(1, "eeeeeeee-0000-4000-8000-000000000002")
			eng, l := newEngine(t, fb)
			out := fakeCreate(t, eng)
			fb.late("at-1", correlation.Late{Err: tt.err, LateBy: time.Second})
			e, _ := l.Get(context.Background(), out.LedgerID)
			if e.Status != protocol.LedgerExpiredUnknown || e.Attempts[0].Outcome != protocol.LedgerOutcomeUnknown || eng.Pending() != 0 {
				t.Fatalf("entry %+v, pending %d", e, eng.Pending())
			}
		})
	}
}

// A create whose attempts all failed in ways that leave the outcome open
// reports the ledger entry in its -32005 and waits for nothing.
func TestOpenFailuresOnlyAreFlagged(t *testing.T) {
	fb := &fakeBridge{script: func(n int, id string, a correlation.Attempt) (json.RawMessage, error) {
		return nil, backendErr(504, 0)
	}}
	eng, l := newEngine(t, fb)
	d := exhaustedCreate(t, eng)
	if e, _ := l.Get(context.Background(), d.LedgerID); e.Status != protocol.LedgerExpiredUnknown || len(e.Attempts) != 2 || eng.Pending() != 0 {
		t.Fatalf("entry %+v pending %d", e, eng.Pending())
	}
}

// A create whose attempt reached a host peer that then went away may have
// run: it is flagged like a backend timeout. One that never left the bridge
// (no host peer) is retried without an entry.
func TestHostGoneWithTheCallIsFlagged(t *testing.T) {
	for _, tt := range []struct {
		name      string
		delivered bool
		want      protocol.LedgerStatus
	}{
		{"delivered", true, protocol.LedgerExpiredUnknown},
		{"never sent", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fb := &fakeBridge{script: func(n int, id string, a correlation.Attempt) (json.RawMessage, error) {
				if n == 0 {
					return nil, protocol.NewNoBackendError(tt.delivered, "host h")
				}
				return created("eeeeeeee-0000-4000-8000-000000000003"), nil
			}}
			eng, l := newEngine(t, fb)
			out := fakeCreate(t, eng)
			if tt.want == "" {
				if out.LedgerID != "" || out.PossibleDuplicate {
					t.Fatalf("never-sent attempt flagged: %+v", out)
				}
				return
			}
			e, err := l.Get(context.Background(), out.LedgerID)
			if err != nil || e.Status != tt.want || !out.PossibleDuplicate {
				t.Fatalf("entry %+v (%v), result %+v", e, err, out)
			}
		})
	}
}

// A create the widget was told failed (-32005) whose timed-out attempt then
// landed: no duplicate, but the entry says the widget does not know the
// record.
func TestExhaustedCreateThatLandedLate(t *testing.T) {
	fb := &fakeBridge{script: func(n int, id string, a correlation.Attempt) (json.RawMessage, error) {
		return nil, protocol.NewTimeoutError(200, id)
	}}
	eng, l := newEngine(t, fb)
	d := exhaustedCreate(t, eng)
	fb.late("at-1", correlation.Late{Result: created("eeeeeeee-0000-4000-8000-000000000009"), LateBy: time.Second})
	fb.late("at-2", correlation.Late{Err: backendErr(500, 0), LateBy: time.Second})
	e, _ := l.Get(context.Background(), d.LedgerID)
	if e.Status != protocol.LedgerCleared || len(e.RecordIDs) != 1 || !strings.Contains(e.Note, "widget was told the create failed") {
		t.Fatalf("entry %+v", e)
	}
}

// exhaustedCreate runs a create with one retry that must end in -32005 with
// a ledger entry, and returns the error's data.
func exhaustedCreate(t *testing.T, eng *retry.Engine) protocol.ExhaustedData {
	t.Helper()
	_, err := eng.CreateRecord(context.Background(), widgetCall(protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{},"maxRetries":1,"delay":0}`))
	var pe *protocol.Error
	var d protocol.ExhaustedData
	if !errors.As(err, &pe) || pe.Code != protocol.CodeRetriesExhausted || json.Unmarshal(pe.Data, &d) != nil || d.LedgerID == "" {
		t.Fatalf("err %v", err)
	}
	return d
}

// The engine hands the backend the params it decoded, not a re-encoding for
// the backend to decode again; the attempt names the widget's request.
func TestAttemptsCarryDecodedParams(t *testing.T) {
	var got []correlation.Attempt
	fb := &fakeBridge{script: func(n int, id string, a correlation.Attempt) (json.RawMessage, error) {
		got = append(got, a)
		return created("eeeeeeee-0000-4000-8000-000000000001"), nil
	}}
	eng, _ := newEngine(t, fb)
	fakeCreate(t, eng)
	if _, err := eng.UpdateRecord(context.Background(), widgetCall(protocol.MethodXrmUpdateRecord,
		`{"entityLogicalName":"contact","id":"eeeeeeee-0000-4000-8000-000000000001","data":"{\"lastname\":\"x\"}"}`)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d attempts, want 2", len(got))
	}
	c, ok := got[0].Typed.(*protocol.CreateRecordParams)
	if !ok || got[0].Params != nil || c.EntityName != "contact" || got[0].Method != protocol.MethodCreateRecord {
		t.Errorf("create attempt = %+v; want decoded *CreateRecordParams and no raw params", got[0])
	}
	u, ok := got[1].Typed.(*protocol.UpdateRecordParams)
	if !ok || got[1].Params != nil || string(u.Value) != `{"lastname":"x"}` {
		t.Errorf("update attempt = %+v; want decoded *UpdateRecordParams with the normalised value", got[1])
	}
	for _, a := range got {
		if string(a.RequestID) != "7" || a.WidgetMethod == "" || a.OnLate == nil && a.Method == protocol.MethodCreateRecord {
			t.Errorf("attempt %+v: want the widget's request id, its method and (create) an OnLate hook", a)
		}
	}
}
