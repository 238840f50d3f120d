package correlation_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// DoBegin keeps Do's semantics whichever way begin answers: an answer in
// time is the answer; one at or after the CIF deadline is a -32000 and a
// late record with that answer; a begin that hands back the rest is timed
// exactly like Do's exec (the -32000 at the deadline, the answer late).
func TestDoBegin(t *testing.T) {
	checkAnswers(t, []answerCase{
		{name: "answer at once", timeout: 10 * time.Second, do: viaDoBegin(atOnce(0, `{"id":"1"}`, nil)), want: answer{result: `{"id":"1"}`}},
		{name: "error at once", timeout: 10 * time.Second, do: viaDoBegin(atOnce(0, "", busy)), want: answer{code: protocol.CodeBackend}},
		{name: "answer at once but after the deadline", timeout: 10 * time.Second, do: viaDoBegin(atOnce(12*time.Second, `{"id":"2"}`, nil)),
			want: answer{code: protocol.CodeTimeout, elapsed: 12 * time.Second, late: true, lateBy: 2 * time.Second, lateOK: true}},
		{name: "answer at once exactly at the deadline", timeout: 10 * time.Second, do: viaDoBegin(atOnce(10*time.Second, `{"id":"3"}`, nil)),
			want: answer{code: protocol.CodeTimeout, elapsed: 10 * time.Second, late: true, lateOK: true}},
		{name: "rest answers in time", timeout: 10 * time.Second, do: viaDoBegin(later(sleepExec(2*time.Second, `{"id":"4"}`, nil))),
			want: answer{result: `{"id":"4"}`, elapsed: 2 * time.Second}},
		{name: "rest times out then answers late", timeout: 10 * time.Second, do: viaDoBegin(later(sleepExec(12*time.Second, "", busy))),
			want: answer{code: protocol.CodeTimeout, elapsed: 10 * time.Second, late: true, lateBy: 2 * time.Second}},
		{name: "begin outlasts the deadline, then hands back the rest", timeout: 10 * time.Second, do: viaDoBegin(slowLater(12*time.Second, sleepExec(time.Second, `{"id":"5"}`, nil))),
			want: answer{code: protocol.CodeTimeout, elapsed: 12 * time.Second, late: true, lateBy: 3 * time.Second, lateOK: true}},
		{name: "begin hands back the rest just before the deadline", timeout: 10 * time.Second, do: viaDoBegin(slowLater(10*time.Second-time.Nanosecond, sleepExec(time.Second, `{"id":"6"}`, nil))),
			want: answer{code: protocol.CodeTimeout, elapsed: 10 * time.Second, late: true, lateBy: time.Second - time.Nanosecond, lateOK: true}},
	})
}

// Begin runs before the attempt is registered, with the table's context
// (live until the table closes): an answer it has at once costs the table
// nothing, and the attempt is never listed. A begin that hands back the
// rest gets the attempt registered while rest runs: listed in flight with
// its id and deadline, rest's exec ctx live until DoBegin returns.
func TestDoBeginRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{})
		var beginCtx context.Context
		var listed []correlation.Info
		_, _, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: 3 * time.Second},
			func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
				beginCtx, listed = ctx, tab.InFlight("")
				if a.ID == "" || a.Deadline.IsZero() {
					t.Errorf("begin got an attempt without its id or deadline: %+v", a)
				}
				return json.RawMessage(`true`), nil, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != 0 || beginCtx.Err() != nil {
			t.Fatalf("during an at-once begin: listed %+v, ctx err %v; want nothing listed, a live ctx", listed, beginCtx.Err())
		}

		var execCtx context.Context
		started := time.Now()
		_, sent, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: 3 * time.Second, Started: started},
			later(func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
				listed, execCtx = tab.InFlight("s1"), ctx
				if ctx.Err() != nil {
					t.Error("exec ctx ended before the rest ran")
				}
				return json.RawMessage(`true`), nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != 1 || listed[0].ID != sent.ID || !listed[0].Deadline.Equal(started.Add(3*time.Second)) || listed[0].State != protocol.AttemptInFlight {
			t.Fatalf("in flight during rest: %+v (sent %+v)", listed, sent)
		}
		synctest.Wait()
		if execCtx.Err() == nil {
			t.Error("the exec ctx outlives the answered attempt")
		}
		if n := len(tab.InFlight("")); n != 0 {
			t.Errorf("%d attempts left in flight", n)
		}
		if err := tab.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if beginCtx.Err() == nil {
			t.Error("begin's ctx outlives the table")
		}
	})
}

// An answer at once after the deadline when the table has closed
// meanwhile: still a timeout, its late record reported (on the caller's
// goroutine, as Close may be waiting already).
func TestDoBeginLateAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lates lateLog
		tab := correlation.New(correlation.Config{OnLate: lates.add})
		_, sent, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second},
			func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
				time.Sleep(2 * time.Second)
				if err := tab.Close(t.Context()); err != nil {
					t.Error(err)
				}
				return json.RawMessage(`{"id":"1"}`), nil, nil
			})
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeTimeout || !sent.Late {
			t.Fatalf("err = %v, sent %+v; want -32000, late", err, sent)
		}
		if len(lates) != 1 || !lates[0].Success() || lates[0].LateBy != time.Second || lates[0].Info.ID != sent.ID {
			t.Fatalf("late reports %+v; want the one success, 1 s late", lates)
		}
		if c := tab.SessionLate("s1"); c != (protocol.LateCounts{Detached: 1, Answered: 1}) || tab.Stats().Timeouts != 1 {
			t.Fatalf("session counts %+v, stats %+v", c, tab.Stats())
		}
	})
}

// A closed table refuses before begin runs, as Do refuses before exec.
func TestDoBeginAfterClose(t *testing.T) {
	tab := correlation.New(correlation.Config{})
	if err := tab.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	ran := false
	_, _, err := tab.DoBegin(t.Context(), correlation.Attempt{Timeout: time.Second},
		func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
			ran = true
			return nil, nil, nil
		})
	var e *protocol.Error
	if !errors.As(err, &e) || e.Code != protocol.CodeShuttingDown || ran {
		t.Fatalf("err = %v (begin ran: %v), want -32007 without running begin", err, ran)
	}
}

// A NoTimeout attempt through DoBegin ends at its safety limit whether
// begin is still running then (it answers at once, or hands back the rest,
// after the limit) or the rest is: -32008, no late record, no timeout.
func TestDoBeginNoTimeoutSafetyLimit(t *testing.T) {
	tests := []struct {
		name  string
		begin correlation.Begin
	}{
		{name: "answers at once after the limit", begin: atOnce(31*time.Minute, `{"ok":1}`, nil)},
		{name: "hands back the rest after the limit", begin: slowLater(31*time.Minute, sleepExec(time.Minute, `{"ok":1}`, nil))},
		{name: "the rest outlasts the limit", begin: later(sleepExec(31*time.Minute, `{"ok":1}`, nil))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var lates lateLog
				tab := correlation.New(correlation.Config{LateWindow: time.Minute, OnLate: lates.add})
				_, sent, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Method: "cif.notifyEvent", Timeout: 30 * time.Minute, NoTimeout: true}, tt.begin)
				var e *protocol.Error
				if !errors.As(err, &e) || e.Code != protocol.CodeSafetyLimit || sent.Late {
					t.Fatalf("err = %v, sent %+v; want -32008, not late", err, sent)
				}
				wantQuiet(t, tab, &lates)
			})
		})
	}
}

// An answer at once after the deadline that another node of the cluster
// delivers (ErrElsewhere) goes to the attempt's own OnLate only, as Do's.
func TestDoBeginLateElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tableLates, own lateLog
		tab := correlation.New(correlation.Config{OnLate: tableLates.add})
		a := correlation.Attempt{Session: "s1", Timeout: time.Second, OnLate: own.add}
		_, sent, err := tab.DoBegin(t.Context(), a, atOnce(2*time.Second, "", correlation.ErrElsewhere))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeTimeout || !sent.Late {
			t.Fatalf("err = %v, sent %+v; want -32000, late", err, sent)
		}
		synctest.Wait()
		if len(tableLates) != 0 || len(own) != 1 || !own[0].Elsewhere || own[0].Info.ID != sent.ID {
			t.Fatalf("table reports %+v, own %+v; want only the attempt's, Elsewhere", tableLates, own)
		}
		if c := tab.SessionLate("s1"); c != (protocol.LateCounts{Detached: 1}) {
			t.Fatalf("session counts %+v, want one detached", c)
		}
	})
}

// A begin that tells when it had its answer (Attempt.Answered) is judged
// by that reading, not by a second one: told past the deadline, the answer
// is a timeout and a late record even though the clock has not moved;
// told in time, it is the answer, and Sent.Answered is the reading. An
// answer of Do's exec is stamped with complete's clock read.
func TestDoBeginToldWhenAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lates lateLog
		tab := correlation.New(correlation.Config{OnLate: lates.add})
		defer func() { _ = tab.Close(context.Background()) }()
		tell := func(at time.Duration) correlation.Begin {
			return func(_ context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
				a.Answered = a.Started.Add(at)
				return json.RawMessage(`true`), nil, nil
			}
		}
		started := time.Now()
		_, sent, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second, Started: started}, tell(time.Second))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeTimeout || !sent.Late || !sent.Answered.IsZero() {
			t.Fatalf("told at the deadline: err %v, sent %+v; want -32000, late, no Answered", err, sent)
		}
		synctest.Wait()
		if len(lates) != 1 || !lates[0].Success() {
			t.Fatalf("late reports %+v; want the one success", lates)
		}

		res, sent, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second, Started: started}, tell(time.Second-1))
		if err != nil || string(res) != "true" || !sent.Answered.Equal(started.Add(time.Second-1)) {
			t.Fatalf("told in time: %s, %v, sent %+v; want the answer, Answered as told", res, err, sent)
		}

		// Untold: the table reads the clock.
		time.Sleep(time.Minute)
		_, sent, err = tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second}, atOnce(0, "true", nil))
		if err != nil || !sent.Answered.Equal(time.Now()) {
			t.Fatalf("untold: %v, sent %+v; want Answered now (%v)", err, sent, time.Now())
		}

		// Do: the answer's time is when exec returned.
		_, sent, err = tab.Do(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Hour},
			func(context.Context, *correlation.Attempt) (json.RawMessage, error) {
				time.Sleep(3 * time.Second)
				return json.RawMessage(`true`), nil
			})
		if err != nil || !sent.Answered.Equal(time.Now()) {
			t.Fatalf("Do: %v, sent %+v; want Answered when exec returned (%v)", err, sent, time.Now())
		}
	})
}

// The copy of the attempt a begin answers at once with is recycled: once
// DoBegin returned it holds nothing of the call (not its params, not its
// session). The copy a begin hands back a rest with is the rest's to keep:
// later calls do not touch it.
func TestDoBeginRecyclesTheCopy(t *testing.T) {
	tab := correlation.New(correlation.Config{})
	defer func() { _ = tab.Close(context.Background()) }()
	var kept *correlation.Attempt
	_, _, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Method: "cif.createrecord", Params: json.RawMessage(`{}`), Timeout: time.Minute},
		func(_ context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
			kept = a
			return json.RawMessage(`true`), nil, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Session != "" || kept.Params != nil || kept.ID != "" || !kept.Started.IsZero() {
		t.Fatalf("begin's copy after DoBegin answered: %+v; want it cleared for reuse", *kept)
	}

	var sessionInRest string
	_, _, err = tab.DoBegin(t.Context(), correlation.Attempt{Session: "s2", Timeout: time.Minute},
		func(_ context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
			kept = a
			return nil, nil, func(context.Context, *correlation.Attempt) (json.RawMessage, error) {
				sessionInRest = a.Session // the copy begin got, held by the rest
				return json.RawMessage(`true`), nil
			}
		})
	if err != nil || sessionInRest != "s2" {
		t.Fatalf("rest: %v, session %q", err, sessionInRest)
	}
	for range 10 {
		if _, _, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s3", Timeout: time.Minute}, atOnce(0, "true", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if kept.Session != "s2" {
		t.Fatalf("the copy a rest holds became %+v after later calls; want it left alone", *kept)
	}
}

// An Unnamed attempt is named only when something shows its name: an
// answer at once in time has none (begin sees none, Sent.ID is empty); a
// late one is named, and the -32000, Sent and the late record agree on the
// name; one whose begin hands back a rest is named before it is listed.
// Do names every attempt.
func TestDoBeginUnnamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lates lateLog
		tab := correlation.New(correlation.Config{OnLate: lates.add})
		defer func() { _ = tab.Close(context.Background()) }()
		var seen string
		named := func(d time.Duration) correlation.Begin {
			return func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
				seen = a.ID
				return atOnce(d, "true", nil)(ctx, a)
			}
		}
		res, sent, err := tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second, Unnamed: true}, named(0))
		if err != nil || string(res) != "true" || sent.ID != "" || seen != "" {
			t.Fatalf("in time: %s, %v, sent %+v, begin saw %q; want the answer, no name", res, err, sent, seen)
		}

		_, sent, err = tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second, Unnamed: true}, named(2*time.Second))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeTimeout || sent.ID == "" || !strings.Contains(string(pe.Data), sent.ID) {
			t.Fatalf("late: %v, sent %+v; want a -32000 naming the attempt", err, sent)
		}
		synctest.Wait()
		if len(lates) != 1 || lates[0].Info.ID != sent.ID {
			t.Fatalf("late records %+v; want one named %q", lates, sent.ID)
		}

		var listed []correlation.Info
		_, sent, err = tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second, Unnamed: true},
			later(func(context.Context, *correlation.Attempt) (json.RawMessage, error) {
				listed = tab.InFlight("s1")
				return json.RawMessage(`true`), nil
			}))
		if err != nil || sent.ID == "" || len(listed) != 1 || listed[0].ID != sent.ID {
			t.Fatalf("rest: %v, sent %+v, listed %+v; want it listed under its name", err, sent, listed)
		}

		_, sent, err = tab.Do(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second, Unnamed: true},
			func(context.Context, *correlation.Attempt) (json.RawMessage, error) {
				return json.RawMessage(`true`), nil
			})
		if err != nil || sent.ID == "" {
			t.Fatalf("Do: %v, sent %+v; want a name", err, sent)
		}
	})
}

// A begin that panics leaves nothing behind in the table: it runs before
// the attempt is registered, so no entry stays in flight, no deadline on
// the heap, and Close does not wait for an exec that will never end. (The
// panic goes on to DoBegin's caller: rpcconn.Conn recovers it and answers
// the call with -32603. This pins that it then finds the table as it was.)
func TestDoBeginPanicLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lates lateLog
		tab := correlation.New(correlation.Config{OnLate: lates.add})
		func() {
			defer func() {
				if recover() == nil {
					t.Error("begin's panic did not reach DoBegin's caller")
				}
			}()
			tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second},
				func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
					panic("backend bug")
				})
		}()
		if st := tab.Stats(); st.InFlight != 0 || st.Late != 0 || st.Timeouts != 0 {
			t.Fatalf("after a panicking begin: %+v, want an empty table", st)
		}
		wantQuiet(t, tab, &lates)
		closed := make(chan error, 1)
		go func() { closed <- tab.Close(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("Close waits for the attempt whose begin panicked")
		}
	})
}

// The caller's ctx ending while begin answers at once (its widget went
// away, or the shutdown cancelled its requests) changes nothing: the
// answer came in time and is DoBegin's, not an abandoned late record. (Do,
// whose exec runs apart, may pick either when both are ready.)
func TestDoBeginCallerGoneDuringAtOnceAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lates lateLog
		tab := correlation.New(correlation.Config{OnLate: lates.add})
		ctx, cancel := context.WithCancel(t.Context())
		res, sent, err := tab.DoBegin(ctx, correlation.Attempt{Session: "s1", Timeout: 10 * time.Second},
			func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
				cancel()
				return json.RawMessage(`{"id":"1"}`), nil, nil
			})
		if err != nil || string(res) != `{"id":"1"}` || sent.Late {
			t.Fatalf("DoBegin = %s, %+v, %v; want the answer, not late", res, sent, err)
		}
		wantQuiet(t, tab, &lates)
	})
}
