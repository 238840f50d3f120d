package correlation_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// A NoTimeout attempt waits past any CIF timeout for its answer, ends at
// its safety limit or when its caller goes away, and never becomes a late
// record.
func TestDoNoTimeout(t *testing.T) {
	tests := []struct {
		name        string
		answerAfter time.Duration // 0: never answers (waits for ctx)
		cancelAt    time.Duration // 0: never; else the caller goes away then
		wantElapsed time.Duration
		wantCode    int64
		wantResult  string
	}{
		{name: "answered after ten minutes", answerAfter: 10 * time.Minute, wantElapsed: 10 * time.Minute, wantResult: `{"ok":1}`},
		{name: "safety limit ends it", wantElapsed: 30 * time.Minute, wantCode: protocol.CodeSafetyLimit},
		{name: "caller gone ends it", cancelAt: 5 * time.Minute, wantElapsed: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var lates atomic.Int32
				tab := correlation.New(correlation.Config{LateWindow: time.Minute, OnLate: func(correlation.Late) { lates.Add(1) }})
				ctx := t.Context()
				if tt.cancelAt > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.cancelAt)
					defer cancel()
				}
				execEnded := make(chan error, 1)
				exec := func(ctx context.Context, _ *correlation.Attempt) (json.RawMessage, error) {
					if tt.answerAfter > 0 {
						time.Sleep(tt.answerAfter)
						return json.RawMessage(`{"ok":1}`), nil
					}
					<-ctx.Done()
					execEnded <- context.Cause(ctx)
					return nil, ctx.Err()
				}
				start := time.Now()
				res, _, err := tab.Do(ctx, correlation.Attempt{Session: "s1", Method: "cif.notifyEvent", Timeout: 30 * time.Minute, NoTimeout: true}, exec)
				if got := time.Since(start); got != tt.wantElapsed {
					t.Errorf("returned after %v, want %v", got, tt.wantElapsed)
				}
				switch {
				case tt.wantResult != "":
					if err != nil || string(res) != tt.wantResult {
						t.Fatalf("got %s, %v; want %s", res, err, tt.wantResult)
					}
				case tt.wantCode != 0:
					var e *protocol.Error
					if !errors.As(err, &e) || e.Code != tt.wantCode {
						t.Fatalf("err = %v, want code %d", err, tt.wantCode)
					}
				default:
					if err == nil {
						t.Fatal("want the caller's context error")
					}
				}
				if tt.answerAfter == 0 {
					if cause := <-execEnded; cause == nil {
						t.Error("exec ctx ended without a cause")
					}
				}
				synctest.Wait()
				if n := len(tab.Late("")) + len(tab.InFlight("")); n != 0 {
					t.Errorf("%d attempts left in the table, want none", n)
				}
				if st := tab.Stats(); st.Timeouts != 0 || st.Abandoned != 0 {
					t.Errorf("stats = %+v, want no timeout and no abandoned attempt", st)
				}
				if lates.Load() != 0 {
					t.Errorf("OnLate called %d times, want never", lates.Load())
				}
			})
		})
	}
}

// An in-flight NoTimeout attempt is listed with noTimeout set, so the
// dashboard shows it as waiting for the agent.
func TestInFlightNoTimeoutFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := correlation.New(correlation.Config{})
		release := make(chan struct{})
		go tab.Do(t.Context(), correlation.Attempt{Session: "s1", Method: "cif.openform", Timeout: time.Hour, NoTimeout: true},
			func(ctx context.Context, _ *correlation.Attempt) (json.RawMessage, error) {
				<-release
				return json.RawMessage("{}"), nil
			})
		synctest.Wait()
		l := tab.InFlight("s1")
		if len(l) != 1 || !l[0].NoTimeout {
			t.Fatalf("in flight = %+v, want one with NoTimeout", l)
		}
		b, _ := json.Marshal(l[0])
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if m["noTimeout"] != true {
			t.Errorf("JSON %s lacks \"noTimeout\":true", b)
		}
		close(release)
		synctest.Wait()
	})
}
