package periodic_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/internal/periodic"
)

// Every calls f at each interval from the start; a slow call is followed
// at once by one more, not by one for each tick it outlasted, and the
// period goes on; Every returns once ctx ends, with no call after that.
func TestEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		var at []time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			periodic.Every(ctx, time.Second, func() {
				at = append(at, time.Since(start))
				if len(at) == 2 {
					time.Sleep(2500 * time.Millisecond) // outlasts two ticks
				}
			})
		}()
		time.Sleep(6500 * time.Millisecond)
		cancel()
		<-done
		want := []time.Duration{time.Second, 2 * time.Second, 4500 * time.Millisecond, 5 * time.Second, 6 * time.Second}
		if len(at) != len(want) {
			t.Fatalf("calls at %v, want at %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("calls at %v, want at %v", at, want)
			}
		}
		time.Sleep(10 * time.Second)
		if len(at) != len(want) {
			t.Fatalf("%d calls after ctx ended", len(at)-len(want))
		}
	})
}
