// Package gcfloor keeps the garbage collector's heap goal at least a fixed
// number of bytes (the floor) above what the last cycle left live, by raising
// GOGC while the live heap is small and putting it back once it is not.
//
// Why: the bridge's live heap at a few dozen busy sessions is a few
// megabytes, so with GOGC=100 the collector runs every few megabytes of
// allocation (several times a second under load), and each cycle's marking
// takes a P from the readers on a small machine: that is the open-loop p99.
// A proportional GOGC raise would grow the heap with the live set (bad with
// tens of thousands of idle sessions); the floor costs at most its size in
// extra heap and changes nothing once live × GOGC/100 is above it.
//
// How: after every collection (a finalizer on a sentinel object, re-armed
// each cycle, so the floor reacts once per cycle and wakes nobody while the
// process allocates nothing) it reads the cycle's figures from
// runtime/metrics and calls debug.SetGCPercent with Percent. runtime/metrics
// has no "cycle ended" event, so the alternative would be polling, which
// either lags the cycle or wakes an idle daemon for nothing.
//
// The runtime's goal is live + (live + stacks + globals) × GOGC/100, so the
// percent is computed from all three (the roots it scans), not from the live
// heap alone: with many idle goroutines the stacks would otherwise multiply
// the floor.
package gcfloor

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// MaxPercent caps the percent the floor sets, so a nearly empty heap does
// not get an absurd GOGC (the floor's bytes still bound the goal).
const MaxPercent = 5000

// heapMinimum is the runtime's smallest heap goal at GOGC=100 (4 MiB); it
// scales with GOGC, so a raised percent raises it too.
const heapMinimum = 4 << 20

// Percent is the GOGC that puts the heap goal at least floor bytes above the
// live heap when the collector scans roots bytes (live heap + stacks +
// globals): max(base, ceil(floor×100/roots)). It is capped at MaxPercent and
// where the runtime's minimum goal (4 MiB × GOGC/100) would pass
// roots + floor, so a nearly empty heap never gets a goal above the floor;
// never below base. base < 0 (GOGC=off) or floor == 0 returns base.
func Percent(base int, floor, roots uint64) int {
	if base < 0 || floor == 0 {
		return base
	}
	if roots == 0 {
		roots = 1
	}
	limit := uint64(MaxPercent)
	if floor < 1<<56 { // 100 × (floor+roots) fits; beyond, MaxPercent caps anyway
		limit = min(limit, (floor+roots)*100/heapMinimum)
	}
	// The division first keeps floor×100 from overflowing.
	q, r := floor/roots, floor%roots
	p := limit
	if q < limit {
		p = min(limit, q*100+(r*100+roots-1)/roots)
	}
	if int(p) < base {
		return base
	}
	return int(p)
}

// Status is what the floor did after one cycle.
type Status struct {
	Base    int    // the percent the process started with
	Percent int    // the percent now set
	Roots   uint64 // live heap + stacks + globals of the last cycle
	Live    uint64 // live heap of the last cycle
}

// Floor adjusts GOGC after every collection until Stop (or its context).
type Floor struct {
	floor uint64
	base  int

	mu      sync.Mutex
	stopped bool
	last    Status
	samples []metrics.Sample
	after   func(Status) // tests: called after every adjustment
}

// Current is the GOGC in effect now (at start: the GOGC
// environment variable unless something called debug.SetGCPercent), -1 when
// off. It does not touch the collector.
func Current() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(int32(s[0].Value.Uint64())) // -1 (off) is stored as its uint64
}

// active is set while a Floor runs: GOGC is the process's, so one at a time
// (a second would take the first's raised percent for its base).
var active atomic.Bool

// Start begins keeping the heap goal floor bytes above the live heap, from
// the current GOGC (Current) as base, and adjusts once right away. It
// returns nil and changes nothing when floor is 0, GOGC is off, or another
// Floor of this process is running (Running tells). The floor
// stops when ctx is done or Stop is called; both put base back.
func Start(ctx context.Context, floor uint64) *Floor {
	return start(ctx, floor, nil)
}

func start(ctx context.Context, floor uint64, after func(Status)) *Floor {
	base := Current()
	if floor == 0 || base < 0 || !active.CompareAndSwap(false, true) {
		return nil
	}
	f := &Floor{floor: floor, base: base, after: after, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}}
	f.adjust()
	arm(f)
	context.AfterFunc(ctx, f.Stop)
	return f
}

// Running reports whether a Floor of this process is adjusting GOGC.
func Running() bool { return active.Load() }

// sentinel is the object whose collection marks the end of a cycle.
type sentinel struct{ f *Floor }

// arm sets a finalizer on a fresh unreachable sentinel: it runs after the
// next cycle, adjusts, and re-arms unless the floor stopped.
func arm(f *Floor) {
	s := &sentinel{f: f}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.f.adjust() {
			arm(s.f)
		}
	})
}

// adjust sets the percent for the last cycle's figures; false once stopped.
func (f *Floor) adjust() bool {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return false
	}
	metrics.Read(f.samples)
	if f.samples[3].Value.Uint64() == 0 {
		// No cycle yet: no live heap to measure, and a raised percent
		// would raise the first goal (4 MiB × GOGC/100) instead.
		f.last = Status{Base: f.base, Percent: f.base}
		f.mu.Unlock()
		return true
	}
	live := f.samples[0].Value.Uint64()
	roots := live + f.samples[1].Value.Uint64() + f.samples[2].Value.Uint64()
	p := Percent(f.base, f.floor, roots)
	if p != f.last.Percent {
		debug.SetGCPercent(p)
	}
	f.last = Status{Base: f.base, Percent: p, Roots: roots, Live: live}
	st, after := f.last, f.after
	f.mu.Unlock()
	if after != nil {
		after(st)
	}
	return true
}

// Status is the last adjustment (after Stop: base restored, Percent = Base).
func (f *Floor) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// Stop puts the base percent back and ends the adjustments (the armed
// sentinel's finalizer then does nothing). Safe to call more than once.
func (f *Floor) Stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	active.Store(false)
	if f.last.Percent != f.base {
		debug.SetGCPercent(f.base)
	}
	f.last.Percent = f.base
}
