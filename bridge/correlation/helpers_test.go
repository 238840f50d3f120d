package correlation_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// lateLog gathers the late reports a table or an attempt hands its OnLate
// (lates.add); a synctest bubble orders the appends.
type lateLog []correlation.Late

func (l *lateLog) add(late correlation.Late) { *l = append(*l, late) }

// wantQuiet lets an hour pass and then wants the table empty and silent:
// nothing in flight, no late record, no timeout, nothing abandoned, and no
// late report in lates.
func wantQuiet(t *testing.T, tab *correlation.Table, lates *lateLog) {
	t.Helper()
	time.Sleep(time.Hour)
	synctest.Wait()
	if st := tab.Stats(); st.InFlight != 0 || st.Late != 0 || st.Timeouts != 0 || st.Abandoned != 0 || len(*lates) != 0 {
		t.Fatalf("an hour later: stats %+v, %d late reports; want an empty table: no timeout, nothing abandoned, no report", st, len(*lates))
	}
}

// atOnce is a Begin that answers on the caller's goroutine after d (0: at
// once), as the emulator does for a call no fault rule delays.
func atOnce(d time.Duration, res string, err error) correlation.Begin {
	return func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
		if d > 0 {
			time.Sleep(d)
		}
		if err != nil {
			return nil, err, nil
		}
		return json.RawMessage(res), nil, nil
	}
}

// later is a Begin that must wait: it hands exec back as the rest.
func later(exec correlation.Exec) correlation.Begin {
	return func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
		return nil, nil, exec
	}
}

// slowLater is a Begin that takes d to decide that it must wait, then
// hands exec back as the rest.
func slowLater(d time.Duration, exec correlation.Exec) correlation.Begin {
	return func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
		time.Sleep(d)
		return nil, nil, exec
	}
}

// sleepExec answers after d with result ok, ignoring ctx like an operation
// that cannot be cancelled.
func sleepExec(d time.Duration, res string, err error) correlation.Exec {
	return func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
		time.Sleep(d)
		if err != nil {
			return nil, err
		}
		return json.RawMessage(res), nil
	}
}

// answer is what Do or DoBegin should give one attempt: its result, or its
// error's code; after how long; whether it became a late record, and then
// how late its answer came and whether it succeeded, or that it expired.
type answer struct {
	result  string
	code    int64
	elapsed time.Duration
	late    bool
	lateBy  time.Duration
	lateOK  bool
	expired bool
}

// busy is a backend's failure, as the rows of the answer tables give it.
var busy = protocol.NewBackendError(503, "0x80040216", "busy", "", "")

// doFunc is Do or DoBegin with its exec or begin bound: checkAnswer runs it.
type doFunc func(context.Context, *correlation.Table, correlation.Attempt) (json.RawMessage, correlation.Sent, error)

// viaDo runs the attempt through Do with exec.
func viaDo(exec correlation.Exec) doFunc {
	return func(ctx context.Context, tab *correlation.Table, a correlation.Attempt) (json.RawMessage, correlation.Sent, error) {
		return tab.Do(ctx, a, exec)
	}
}

// viaDoBegin runs the attempt through DoBegin with begin.
func viaDoBegin(begin correlation.Begin) doFunc {
	return func(ctx context.Context, tab *correlation.Table, a correlation.Attempt) (json.RawMessage, correlation.Sent, error) {
		return tab.DoBegin(ctx, a, begin)
	}
}

// answerCase is a row of an answer table: an attempt with timeout, run by
// do, should get want.
type answerCase struct {
	name    string
	timeout time.Duration
	do      doFunc
	want    answer
}

// checkAnswers runs each case as a subtest through checkAnswer.
func checkAnswers(t *testing.T, cases []answerCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) { checkAnswer(t, tt.timeout, tt.want, tt.do) })
	}
}

// checkAnswer runs do (Do or DoBegin, which keep the same semantics) in a
// synctest bubble, on a table with a one-minute late window, for an attempt
// of session s1 with timeout, and checks its answer against want; then it
// lets any late answer or expiry happen and checks the one late report (or
// none), the session's late counts, and that the table keeps nothing.
func checkAnswer(t *testing.T, timeout time.Duration, want answer, do doFunc) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		lates := make(chan correlation.Late, 4)
		tab := correlation.New(correlation.Config{LateWindow: time.Minute, OnLate: func(l correlation.Late) { lates <- l }})
		start := time.Now()
		res, sent, err := do(t.Context(), tab, correlation.Attempt{Session: "s1", Method: "cif.createrecord", Timeout: timeout})
		if got := time.Since(start); got != want.elapsed {
			t.Errorf("answered after %v, want exactly %v", got, want.elapsed)
		}
		if sent.Late != want.late || sent.ID == "" {
			t.Errorf("Sent = %+v; want Late %v and an id", sent, want.late)
		}
		if want.code == 0 {
			if err != nil || string(res) != want.result {
				t.Fatalf("answer %s, %v; want %s", res, err, want.result)
			}
		} else {
			var e *protocol.Error
			if !errors.As(err, &e) || e.Code != want.code {
				t.Fatalf("err = %v, want code %d", err, want.code)
			}
			if want.code == protocol.CodeTimeout {
				var d protocol.TimeoutData
				if json.Unmarshal(e.Data, &d); d.Message != protocol.TimeoutMessage || d.TimeoutMs != timeout.Milliseconds() {
					t.Errorf("timeout data = %+v", d)
				}
				// The late answer comes at timeout+lateBy: when that is after
				// the call returned, its late record waits for it.
				waiting := 0
				if timeout+want.lateBy > want.elapsed {
					waiting = 1
				}
				if st := tab.Stats(); st.Late != waiting || st.InFlight != 0 || st.Timeouts != 1 {
					t.Errorf("stats after timeout = %+v, want %d late record waiting, none in flight, one timeout", st, waiting)
				}
			}
		}
		time.Sleep(5 * time.Minute) // let any late answer or expiry happen
		synctest.Wait()
		wantCounts, wantLates := protocol.LateCounts{}, 0
		switch {
		case want.expired:
			wantCounts, wantLates = protocol.LateCounts{Detached: 1, Expired: 1}, 1
		case want.late:
			wantCounts, wantLates = protocol.LateCounts{Detached: 1, Answered: 1}, 1
		}
		if st := tab.Stats(); st.InFlight != 0 || st.Late != 0 || len(lates) != wantLates || tab.SessionLate("s1") != wantCounts {
			t.Fatalf("stats %+v, %d late reports, session counts %+v; want none left, %d and %+v", st, len(lates), tab.SessionLate("s1"), wantLates, wantCounts)
		}
		if wantLates == 1 {
			if l := <-lates; l.LateBy != want.lateBy || l.Success() != want.lateOK || l.Expired != want.expired || l.Info.State != "timedout" || l.Info.ID != sent.ID {
				t.Errorf("late = %+v (lateBy %v success %v), want lateBy %v success %v expired %v", l, l.LateBy, l.Success(), want.lateBy, want.lateOK, want.expired)
			}
		}
	})
}
