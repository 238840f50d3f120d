package backoff

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

var errNotYet = errors.New("not ready yet")

// failing is an op that fails n times, then succeeds, recording when each
// try started.
func failing(n int, starts *[]time.Duration, t0 time.Time) func(context.Context) error {
	return func(context.Context) error {
		*starts = append(*starts, time.Since(t0))
		if len(*starts) <= n {
			return errNotYet
		}
		return nil
	}
}

func TestDoPausesDoubleUpToMaxPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var starts []time.Duration
		var failed []int
		r := Retry{Pause: 100 * time.Millisecond, MaxPause: 300 * time.Millisecond,
			OnFail: func(err error, try int) {
				if !errors.Is(err, errNotYet) {
					t.Errorf("OnFail got %v, want %v", err, errNotYet)
				}
				failed = append(failed, try)
			}}
		if err := r.Do(t.Context(), failing(4, &starts, time.Now())); err != nil {
			t.Fatalf("Do = %v, want nil", err)
		}
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond}
		if len(starts) != len(want) {
			t.Fatalf("tries started at %v, want %v", starts, want)
		}
		for i := range want {
			if starts[i] != want[i] {
				t.Fatalf("tries started at %v, want %v", starts, want)
			}
		}
		if len(failed) != 4 || failed[0] != 1 || failed[3] != 4 {
			t.Errorf("OnFail told of tries %v, want [1 2 3 4]", failed)
		}
	})
}

func TestDoDefaultPauseIsConstant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var starts []time.Duration
		if err := (Retry{}).Do(t.Context(), failing(3, &starts, time.Now())); err != nil {
			t.Fatalf("Do = %v, want nil", err)
		}
		if got, want := starts[len(starts)-1], 300*time.Millisecond; got != want {
			t.Errorf("fourth try started after %v, want %v", got, want)
		}
	})
}

func TestDoReturnsAFinalFailureAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errFatal := errors.New("misconfigured")
		tries := 0
		r := Retry{Final: func(err error) bool { return errors.Is(err, errFatal) }}
		err := r.Do(t.Context(), func(context.Context) error {
			tries++
			return errFatal
		})
		if !errors.Is(err, errFatal) || tries != 1 {
			t.Errorf("Do = %v after %d tries, want %v after 1", err, tries, errFatal)
		}
	})
}

func TestDoGivesUpWithTheLastFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var starts []time.Duration
		err := Retry{Pause: time.Second, GiveUp: 5 * time.Second}.Do(t.Context(), failing(100, &starts, start))
		if !errors.Is(err, errNotYet) {
			t.Fatalf("Do = %v, want %v", err, errNotYet)
		}
		// Tries at 0 s … 5 s do not pass GiveUp yet; the one at 6 s does.
		if len(starts) != 7 || time.Since(start) != 6*time.Second {
			t.Errorf("gave up after %d tries and %v, want 7 tries and 6s", len(starts), time.Since(start))
		}
	})
}

func TestDoBoundsEachTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tries := 0
		start := time.Now()
		err := Retry{Try: 2 * time.Second, Pause: time.Second}.Do(t.Context(), func(ctx context.Context) error {
			tries++
			if tries == 3 {
				return nil
			}
			<-ctx.Done() // a server that never answers
			return ctx.Err()
		})
		if err != nil {
			t.Fatalf("Do = %v, want nil", err)
		}
		if got, want := time.Since(start), 2*time.Second+time.Second+2*time.Second+time.Second; got != want {
			t.Errorf("succeeded after %v, want %v", got, want)
		}
	})
}

func TestDoStopsWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
		defer cancel()
		var starts []time.Duration
		err := Retry{Pause: 100 * time.Millisecond}.Do(ctx, failing(100, &starts, time.Now()))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do = %v, want %v", err, context.DeadlineExceeded)
		}
		if len(starts) != 3 {
			t.Errorf("%d tries, want 3 (at 0, 100 and 200 ms)", len(starts))
		}
	})
}

func TestDoReturnsTheTrysFailureWhenTheContextEndsDuringIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		errCut := errors.New("connection closed")
		err := (Retry{}).Do(ctx, func(context.Context) error {
			cancel()
			return errCut
		})
		if !errors.Is(err, errCut) {
			t.Errorf("Do = %v, want %v", err, errCut)
		}
	})
}
