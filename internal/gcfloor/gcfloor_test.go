package gcfloor

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name        string
		base        int
		floor, root uint64
		want        int
	}{
		{"off stays off", -1, 64 * mib, 5 * mib, -1},
		{"floor 0 changes nothing", 100, 0, 5 * mib, 100},
		{"small live raises", 100, 64 * mib, 5 * mib, 1280},
		{"rounds up", 100, 64 * mib, 7 * mib, 915}, // 914.29…
		{"exactly at the floor", 100, 64 * mib, 64 * mib, 100},
		{"large live keeps base", 100, 64 * mib, 1024 * mib, 100},
		{"base above the floor's need", 200, 64 * mib, 40 * mib, 200},
		{"base just below the need: 160", 100, 64 * mib, 40 * mib, 160},
		// 4 MiB × GOGC/100 (the runtime's minimum goal) stays ≤ roots + floor:
		{"tiny live: minimum goal capped at the floor", 100, 64 * mib, 1000, 1600},
		{"no roots yet", 100, 64 * mib, 0, 1600},
		{"3 MiB live: minimum goal cap", 100, 64 * mib, 3 * mib, 1675},
		{"huge floor capped", 100, 1 << 62, 1, MaxPercent},
		{"large floor, small live: MaxPercent", 100, 1 << 30, 10 * mib, 5000},
		{"base above the cap kept", 8000, 64 * mib, 1000, 8000},
	} {
		if got := Percent(c.base, c.floor, c.root); got != c.want {
			t.Errorf("%s: Percent(%d, %d, %d) = %d, want %d", c.name, c.base, c.floor, c.root, got, c.want)
		}
	}
}

// keep holds the test's live heap where the compiler cannot drop it.
var keep [][]byte

// TestFloorFollowsTheLiveHeap starts the floor in this process, grows and
// shrinks the live heap with forced collections, and checks that the percent
// rises while the heap is small, falls to the base once live × base/100 is
// above the floor, rises again, and is the base again after Stop.
func TestFloorFollowsTheLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	if Current() != 100 {
		t.Fatalf("Current() = %d after SetGCPercent(100)", Current())
	}

	const floor = 8 << 20
	seen := make(chan Status, 64)
	f := start(context.Background(), floor, func(s Status) {
		select {
		case seen <- s:
		default: // the test reads only the latest; never block the finalizer goroutine
		}
	})
	if f == nil {
		t.Fatal("start returned nil with a floor and GOGC=100")
	}
	defer f.Stop()

	// cycle forces a collection and returns the status the floor set for
	// it: runtime.GC returns once the cycle is done, and the sentinel's
	// finalizer then runs on the finalizer goroutine.
	cycle := func() Status {
		t.Helper()
		for len(seen) > 0 {
			<-seen
		}
		runtime.GC()
		select {
		case s := <-seen:
			for len(seen) > 0 { // a background cycle may have followed
				s = <-seen
			}
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no adjustment within 10 s of a forced collection")
			return Status{}
		}
	}
	checkRuntime := func(want int) {
		t.Helper()
		if got := Current(); got != want {
			t.Fatalf("runtime GOGC = %d, want %d", got, want)
		}
	}

	s := cycle()
	if want := Percent(100, floor, s.Roots); s.Percent != want || s.Percent <= 100 {
		t.Fatalf("small heap: percent %d (roots %d), want %d > 100", s.Percent, s.Roots, want)
	}
	checkRuntime(s.Percent)

	// 16 MiB live: live × 100/100 is above the 8 MiB floor, so back to base.
	for range 16 {
		keep = append(keep, make([]byte, 1<<20))
	}
	s = cycle()
	if s.Percent != 100 || s.Live < 16<<20 {
		t.Fatalf("large heap: percent %d with %d live, want 100 with ≥ 16 MiB", s.Percent, s.Live)
	}
	checkRuntime(100)

	keep = nil
	s = cycle()
	if s.Percent <= 100 {
		t.Fatalf("heap small again: percent %d (roots %d), want > 100", s.Percent, s.Roots)
	}
	checkRuntime(s.Percent)

	f.Stop()
	checkRuntime(100)
	if got := f.Status().Percent; got != 100 {
		t.Fatalf("Status after Stop: percent %d, want 100", got)
	}
	runtime.GC() // the armed sentinel's finalizer must not set anything now
	runtime.GC()
	checkRuntime(100)
}

// TestStopsWithContext: cancelling the context puts the base back.
func TestStopsWithContext(t *testing.T) {
	old := debug.SetGCPercent(150)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	runtime.GC() // a cycle's live heap for Start's first adjustment
	f := Start(ctx, 1<<30)
	if f == nil {
		t.Fatal("Start returned nil")
	}
	if got := f.Status(); got.Base != 150 || got.Percent <= 150 || Current() != got.Percent {
		t.Fatalf("after Start: %+v, runtime %d; want base 150 and a raised percent", got, Current())
	}
	context.AfterFunc(ctx, func() { close(stopped) })
	cancel()
	<-stopped
	// AfterFuncs run in their own goroutines: Stop may not have finished.
	f.Stop() // waits on the floor's lock, and is a no-op if it has
	if Current() != 150 {
		t.Fatalf("after cancel: runtime GOGC %d, want 150", Current())
	}
}

// TestOffAndZeroChangeNothing: GOGC=off and a zero floor start nothing.
func TestOffAndZeroChangeNothing(t *testing.T) {
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	if f := Start(context.Background(), 64<<20); f != nil {
		t.Fatalf("GOGC=off: Start returned a floor %+v", f.Status())
	}
	if Current() != -1 {
		t.Fatalf("GOGC=off: runtime GOGC %d, want -1", Current())
	}
	debug.SetGCPercent(100)
	if f := Start(context.Background(), 0); f != nil {
		t.Fatal("floor 0: Start returned a floor")
	}
	if Current() != 100 {
		t.Fatalf("floor 0: runtime GOGC %d, want 100", Current())
	}
	var f *Floor
	f.Stop() // nil-safe, as serve calls it whether or not the floor started
}

// TestOneAtATime: a second floor in the process starts nothing until the
// first stops (GOGC is the process's).
func TestOneAtATime(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	a := Start(context.Background(), 1<<30)
	if a == nil || !Running() {
		t.Fatal("first Start: no floor")
	}
	if b := Start(context.Background(), 1<<20); b != nil {
		b.Stop()
		t.Fatal("second Start while the first runs returned a floor")
	}
	a.Stop()
	if Running() || Current() != 100 {
		t.Fatalf("after Stop: running %v, GOGC %d; want false, 100", Running(), Current())
	}
	b := Start(context.Background(), 1<<20)
	if b == nil {
		t.Fatal("Start after the first stopped returned nil")
	}
	b.Stop()
}
