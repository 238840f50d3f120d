package correlation_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/internal/recovered"
	"github.com/cifbridge/cifbridge/protocol"
)

// Do answers in time with exec's answer; at the CIF deadline with a -32000,
// and exec's answer then comes late (or the late record expires).
func TestDo(t *testing.T) {
	checkAnswers(t, []answerCase{
		{name: "answer in time", timeout: 10 * time.Second, do: viaDo(sleepExec(2*time.Second, `{"id":"1"}`, nil)),
			want: answer{result: `{"id":"1"}`, elapsed: 2 * time.Second}},
		{name: "error in time", timeout: 10 * time.Second, do: viaDo(sleepExec(time.Second, "", busy)),
			want: answer{code: protocol.CodeBackend, elapsed: time.Second}},
		{name: "cif1 timeout then late success", timeout: 10 * time.Second, do: viaDo(sleepExec(12*time.Second, `{"id":"2"}`, nil)),
			want: answer{code: protocol.CodeTimeout, elapsed: 10 * time.Second, late: true, lateBy: 2 * time.Second, lateOK: true}},
		{name: "cif2 timeout then late failure", timeout: 100 * time.Second, do: viaDo(sleepExec(130*time.Second, "", busy)),
			want: answer{code: protocol.CodeTimeout, elapsed: 100 * time.Second, late: true, lateBy: 30 * time.Second}},
		{name: "never answered expires after the late window", timeout: 10 * time.Second,
			do: viaDo(func(ctx context.Context, _ *correlation.Attempt) (json.RawMessage, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}),
			want: answer{code: protocol.CodeTimeout, elapsed: 10 * time.Second, late: true, lateBy: time.Minute, expired: true}},
	})
}

// A session's late counts say how many bridge.late notifications are still
// to come: backend attempts only, counted when they time out or are
// abandoned, until the session is forgotten.
func TestSessionLateCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{LateWindow: time.Minute})
		slow := sleepExec(3*time.Second, `{}`, nil)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { _, _, _ = tab.Do(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second}, slow) })
		wg.Go(func() { _, _, _ = tab.Do(ctx, correlation.Attempt{Session: "s1", Timeout: 10 * time.Second}, slow) })
		wg.Go(func() {
			_, _, _ = tab.Do(t.Context(), correlation.Attempt{Session: "s1", Kind: correlation.KindEvent, Timeout: time.Second}, slow)
		})
		wg.Go(func() {
			_, _, _ = tab.Do(t.Context(), correlation.Attempt{Session: "s2", Timeout: 10 * time.Second}, slow)
		})
		time.Sleep(500 * time.Millisecond)
		cancel() // the second attempt is abandoned
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := tab.SessionLate("s1"), (protocol.LateCounts{Detached: 2}); got != want {
			t.Errorf("s1 while its answers are pending: %+v, want %+v", got, want)
		}
		wg.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := tab.SessionLate("s1"), (protocol.LateCounts{Detached: 2, Answered: 2}); got != want {
			t.Errorf("s1 after its late answers: %+v, want %+v", got, want)
		}
		if got := tab.SessionLate("s2"); got != (protocol.LateCounts{}) {
			t.Errorf("s2, answered in time: %+v", got)
		}
		tab.ForgetSession("s1")
		if got := tab.SessionLate("s1"); got != (protocol.LateCounts{}) {
			t.Errorf("s1 after ForgetSession: %+v", got)
		}

		// A late answer after its session ended does not bring the
		// session's counts back (they would never be forgotten again).
		wg.Go(func() { _, _, _ = tab.Do(t.Context(), correlation.Attempt{Session: "s3", Timeout: time.Second}, slow) })
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		tab.ForgetSession("s3")
		wg.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := tab.SessionLate("s3"); got != (protocol.LateCounts{}) {
			t.Errorf("s3, answered after it ended: %+v", got)
		}
		if st := tab.Stats(); st.Late != 0 || st.LateAnswers != 4 {
			t.Errorf("stats %+v: want no late record left and 4 late answers (the event's too)", st)
		}
	})
}

// The table's one deadline timer is re-armed from attempt to attempt: a
// deadline whose attempt was answered early, or one that fired, must make
// the next attempt's timeout neither early nor late.
func TestRecycledTimersAreExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{LateWindow: time.Minute})
		for i, tt := range []struct {
			timeout, answer time.Duration
		}{
			{10 * time.Second, time.Second}, // answered: its timer is stopped
			{3 * time.Second, 5 * time.Second},
			{2 * time.Second, time.Second}, // after a timer that fired
			{time.Second, 4 * time.Second},
			{time.Second, 4 * time.Second},
		} {
			start := time.Now()
			_, _, err := tab.Do(t.Context(), correlation.Attempt{Timeout: tt.timeout}, sleepExec(tt.answer, `1`, nil))
			want, timedOut := min(tt.timeout, tt.answer), tt.answer > tt.timeout
			if got := time.Since(start); got != want || errors.Is(err, protocol.ErrTimeout) != timedOut {
				t.Fatalf("attempt %d: err %v after %v, want timeout %v after %v", i, err, got, timedOut, want)
			}
		}
		tab.Close(t.Context())
	})
}

func TestCallerDeadlineEarlierWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, sent, err := tab.Do(ctx, correlation.Attempt{Timeout: 10 * time.Second}, sleepExec(5*time.Second, `1`, nil))
		if !errors.Is(err, protocol.ErrTimeout) || time.Since(start) != 3*time.Second || !sent.Late {
			t.Fatalf("err %v after %v (sent %+v), want timeout after 3s with a late record", err, time.Since(start), sent)
		}
		tab.Close(t.Context())
	})
}

// The CIF clock starts when the widget's frame was read, not when the
// attempt got to run: time spent queued counts against the timeout.
func TestDeadlineCountsFromStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{})
		read := time.Now()
		time.Sleep(900 * time.Millisecond) // queued before the attempt starts
		_, _, err := tab.Do(t.Context(), correlation.Attempt{Timeout: time.Second, Started: read}, sleepExec(5*time.Second, `1`, nil))
		if !errors.Is(err, protocol.ErrTimeout) || time.Since(read) != time.Second {
			t.Fatalf("err %v after %v, want the timeout 1s after the frame was read", err, time.Since(read))
		}
		for _, l := range tab.Late("") {
			if !l.Started.Equal(read) || !l.Deadline.Equal(read.Add(time.Second)) {
				t.Fatalf("late record started %v deadline %v, want %v and +1s", l.Started, l.Deadline, read)
			}
		}
		tab.Close(t.Context())
	})
}

func TestAbandonedOnCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan correlation.Late, 1)
		tab := correlation.New(correlation.Config{})
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(time.Second, func() { cancel(errors.New("widget went away")) })
		_, sent, err := tab.Do(ctx, correlation.Attempt{Timeout: 10 * time.Second, OnLate: func(l correlation.Late) { got <- l }},
			sleepExec(4*time.Second, `{"ok":true}`, nil))
		if err == nil || err.Error() != "widget went away" || !sent.Late {
			t.Fatalf("err = %v (sent %+v), want the cancel cause and a late record", err, sent)
		}
		if n := len(tab.InFlight("")); n != 0 {
			t.Errorf("%d attempts still in flight", n)
		}
		if n := len(tab.Late("")); n != 1 {
			t.Errorf("%d late records, want 1", n)
		}
		l := <-got
		if !l.Success() || l.Info.State != "abandoned" || string(l.Result) != `{"ok":true}` || l.Info.ID != sent.ID {
			t.Errorf("late = %+v", l)
		}
	})
}

func TestInFlightListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{})
		release := make(chan struct{})
		exec := func(ctx context.Context, _ *correlation.Attempt) (json.RawMessage, error) {
			<-release
			return json.RawMessage(`1`), nil
		}
		var wg sync.WaitGroup
		for _, s := range []string{"a", "a", "b"} {
			wg.Go(func() { _, _, _ = tab.Do(t.Context(), correlation.Attempt{Session: s, Timeout: time.Hour}, exec) })
		}
		synctest.Wait()
		if n := len(tab.InFlight("a")); n != 2 {
			t.Errorf("session a has %d in flight, want 2", n)
		}
		if n := len(tab.InFlight("")); n != 3 {
			t.Errorf("%d in flight, want 3", n)
		}
		close(release)
		wg.Wait()
		if st := tab.Stats(); st.InFlight != 0 || st.Late != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// An answer at the deadline is a timeout and a late answer, never an
// answer in time, whichever of the answer and the timer the waiting
// goroutine sees first (on a busy machine it may see both at once).
func TestAnswerAtTheDeadlineIsLate(t *testing.T) {
	for range 20 {
		synctest.Test(t, func(t *testing.T) {
			lates := make(chan correlation.Late, 1)
			tab := correlation.New(correlation.Config{OnLate: func(l correlation.Late) { lates <- l }})
			_, sent, err := tab.Do(t.Context(), correlation.Attempt{Session: "s", Timeout: time.Second}, sleepExec(time.Second, `{"id":"1"}`, nil))
			if !errors.Is(err, protocol.ErrTimeout) || !sent.Late {
				t.Fatalf("Do = %v, %+v; want the timeout and a late record", err, sent)
			}
			l := <-lates
			if !l.Success() || string(l.Result) != `{"id":"1"}` || l.Info.ID != sent.ID || l.Info.State != "timedout" {
				t.Fatalf("late = %+v; want the answer as a late success", l)
			}
			if st := tab.Stats(); st.Timeouts != 1 || st.LateAnswers != 1 || st.InFlight != 0 || st.Late != 0 {
				t.Fatalf("stats = %+v", st)
			}
			if c := tab.SessionLate("s"); c != (protocol.LateCounts{Detached: 1, Answered: 1}) {
				t.Fatalf("session counts = %+v", c)
			}
			tab.Close(t.Context())
		})
	}
}

// An exec that returns ErrElsewhere after the deadline (another node of
// the cluster delivers the late answer) ends the late record without the
// table-wide OnLate (no bridge.late here); the attempt's own OnLate hears
// Elsewhere. Has follows the attempt from in flight to gone.
func TestLateAnswerDeliveredElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var tableLate, ownLate []correlation.Late
		tbl := correlation.New(correlation.Config{LateWindow: time.Minute, OnLate: func(l correlation.Late) {
			mu.Lock()
			tableLate = append(tableLate, l)
			mu.Unlock()
		}})
		defer tbl.Close(context.Background())
		a := correlation.Attempt{ID: "at-x", Session: "s", Method: "cif.createrecord", Timeout: time.Second, OnLate: func(l correlation.Late) {
			mu.Lock()
			ownLate = append(ownLate, l)
			mu.Unlock()
		}}
		release := make(chan struct{})
		exec := func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			<-release
			return nil, correlation.ErrElsewhere
		}
		_, sent, err := tbl.Do(context.Background(), a, exec)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeTimeout || !sent.Late {
			t.Fatalf("Do: %v %+v, want a -32000 and a late record", err, sent)
		}
		if !tbl.Has("at-x") {
			t.Fatal("Has: the late record is not there")
		}
		time.Sleep(2 * time.Second)
		close(release)
		synctest.Wait()
		if tbl.Has("at-x") {
			t.Fatal("Has: the late record outlived its answer")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(tableLate) != 0 {
			t.Fatalf("table-wide OnLate called: %+v", tableLate)
		}
		if len(ownLate) != 1 || !ownLate[0].Elsewhere || ownLate[0].Info.ID != "at-x" {
			t.Fatalf("attempt's OnLate: %+v, want one Elsewhere", ownLate)
		}
		if st := tbl.Stats(); st.Late != 0 {
			t.Fatalf("stats after: %+v", st)
		}
	})
}

// Many attempts in flight at once, with deadlines in every order, answered
// before, at and never: each Do returns exactly at its own deadline or
// answer, a NoTimeout attempt ends exactly at its safety limit, and each
// late record that gets no answer expires exactly when its window ends,
// although the table keeps them all in one deadline heap with one timer.
func TestManyDeadlinesFireExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = time.Minute
		var mu sync.Mutex
		expiredAt := map[string]time.Duration{} // attempt id → when it expired, from t0
		t0 := time.Now()
		tab := correlation.New(correlation.Config{LateWindow: window, OnLate: func(l correlation.Late) {
			if l.Expired {
				mu.Lock()
				expiredAt[l.Info.ID] = time.Since(t0)
				mu.Unlock()
			}
		}})
		type call struct {
			timeout, answer time.Duration // answer 0: never (exec waits for its ctx)
			noTimeout       bool
		}
		var calls []call
		for i := range 300 {
			c := call{timeout: time.Duration(1+(i*7919)%97) * 100 * time.Millisecond}
			switch i % 4 {
			case 0: // answered in time
				c.answer = c.timeout * time.Duration(1+i%3) / 4
			case 1: // answered late
				c.answer = c.timeout + time.Duration(1+i%5)*time.Second
			case 3:
				c.noTimeout = i%8 == 3
			}
			calls = append(calls, c)
		}
		var wg sync.WaitGroup
		var timeoutIDs sync.Map // id → deadline from t0, of the attempts that never answer
		for i, c := range calls {
			wg.Go(func() {
				exec := sleepExec(c.answer, `{"ok":1}`, nil)
				if c.answer == 0 {
					exec = func(ctx context.Context, _ *correlation.Attempt) (json.RawMessage, error) {
						<-ctx.Done()
						return nil, ctx.Err()
					}
				}
				_, sent, err := tab.Do(t.Context(), correlation.Attempt{Session: "s", Timeout: c.timeout, NoTimeout: c.noTimeout}, exec)
				got := time.Since(t0)
				switch {
				case c.noTimeout:
					if got != c.timeout || protocol.AsError(err).Code != protocol.CodeSafetyLimit || sent.Late {
						t.Errorf("call %d (no timeout, limit %v): %v after %v, late %v; want -32008 at the limit", i, c.timeout, err, got, sent.Late)
					}
				case c.answer != 0 && c.answer < c.timeout:
					if got != c.answer || err != nil {
						t.Errorf("call %d: %v after %v, want the answer after %v", i, err, got, c.answer)
					}
				default:
					if got != c.timeout || !errors.Is(err, protocol.ErrTimeout) || !sent.Late {
						t.Errorf("call %d: %v after %v, want the timeout after %v", i, err, got, c.timeout)
					}
					if c.answer == 0 {
						timeoutIDs.Store(sent.ID, c.timeout)
					}
				}
			})
		}
		wg.Wait()
		time.Sleep(10 * time.Second) // the last deadline is 9.7 s
		if st := tab.Stats(); st.InFlight != 0 {
			t.Errorf("stats %+v: attempts left in flight", st)
		}
		time.Sleep(window)
		synctest.Wait()
		n := 0
		timeoutIDs.Range(func(id, deadline any) bool {
			n++
			mu.Lock()
			at, ok := expiredAt[id.(string)]
			mu.Unlock()
			if want := deadline.(time.Duration) + window; !ok || at != want {
				t.Errorf("late record %v expired at %v (%v), want at %v", id, at, ok, want)
			}
			return true
		})
		if st := tab.Stats(); st.InFlight != 0 || st.Late != 0 || st.Expired != uint64(n) || n == 0 {
			t.Errorf("stats %+v, want nothing left and %d expired", st, n)
		}
		tab.Close(t.Context())
	})
}

// An exec that panics runs on a goroutine of the table's, where nothing
// else could recover it: the panic becomes the attempt's error (an
// internal error carrying the stack), in time or late, and the table ends
// the attempt as for any other error, so the process and every other
// attempt go on and Close does not wait for it.
func TestExecPanicIsTheAttemptsError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lates lateLog
		tab := correlation.New(correlation.Config{OnLate: lates.add})
		boom := func(context.Context, *correlation.Attempt) (json.RawMessage, error) {
			var m map[string]int
			m["x"]++ // a real runtime panic: assignment to a nil map
			return nil, nil
		}
		_, _, err := tab.Do(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second}, boom)
		if err == nil || protocol.AsError(err).Code != protocol.CodeInternal {
			t.Fatalf("Do's error = %v, want an internal error", err)
		}
		if st := recovered.Stack(err); !strings.Contains(st, "TestExecPanicIsTheAttemptsError") {
			t.Fatalf("the error does not carry the panicking exec's stack:\n%s", st)
		}

		// Past the deadline: the timeout answers, the panic is the late failure.
		slowBoom := func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			time.Sleep(2 * time.Second)
			return boom(ctx, a)
		}
		_, _, err = tab.Do(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second}, slowBoom)
		if protocol.AsError(err).Code != protocol.CodeTimeout {
			t.Fatalf("Do's error = %v, want the CIF timeout", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(lates) != 1 || lates[0].Err == nil || recovered.Stack(lates[0].Err) == "" {
			t.Fatalf("late reports %+v, want one failure carrying the panic", lates)
		}
		if st := tab.Stats(); st.InFlight != 0 {
			t.Fatalf("after two panicking execs: %+v, want nothing in flight", st)
		}
		if err := tab.Close(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

// TestCloseEndsExecContexts: Close ends the exec ctx of attempts in flight
// and of late records, and Do refuses attempts after it.
func TestCloseEndsExecContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{LateWindow: time.Hour})
		ended := make(chan error, 2)
		exec := func(ctx context.Context, _ *correlation.Attempt) (json.RawMessage, error) {
			<-ctx.Done()
			ended <- ctx.Err()
			return nil, ctx.Err()
		}
		go tab.Do(context.Background(), correlation.Attempt{Method: "m", Timeout: time.Minute}, exec)
		go tab.Do(context.Background(), correlation.Attempt{Method: "m", Timeout: time.Second}, exec)
		time.Sleep(2 * time.Second) // the second one is a late record now
		synctest.Wait()
		if s := tab.Stats(); s.InFlight != 1 || s.Late != 1 {
			t.Fatalf("stats %+v, want 1 in flight and 1 late", s)
		}
		before := time.Now()
		if err := tab.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(before); waited != 0 {
			t.Errorf("Close returned after %v: it waited for a deadline instead of ending the exec contexts", waited)
		}
		for range 2 {
			if err := <-ended; err != context.Canceled {
				t.Errorf("exec ctx ended with %v", err)
			}
		}
		if _, _, err := tab.Do(context.Background(), correlation.Attempt{Method: "m", Timeout: time.Second}, func(context.Context, *correlation.Attempt) (json.RawMessage, error) { return nil, nil }); err == nil {
			t.Error("Do after Close ran")
		}
	})
}
