// Package faultdice decides which rule of an emulator's fault profile
// applies to one operation, for both emulators (Dataverse and Enreach):
// rules are tried in order; the first that the emulator's own match accepts,
// whose count is not used up and whose ratio draw succeeds applies, and its
// delay is LatencyMs or a draw from Latency. Draws come from a PCG seeded
// with the profile's seed, so the same profile and the same sequence of
// operations decide the same way.
//
// Entry point: Dice.
package faultdice

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// Rule is a fault rule of either emulator: its timing fields and a deep copy.
type Rule[R any] interface {
	Timing() protocol.FaultTiming
	Clone() R
}

// Dice is one emulator's active rules, their random source and each rule's
// use count, under one mutex. The zero Dice has no rules.
type Dice[R Rule[R]] struct {
	mu    sync.Mutex
	seed  int64
	rules []R
	rng   *rand.Rand
	used  []int
}

// Set replaces the rules with copies of rules, restarting the random source
// from seed and every use count.
func (d *Dice[R]) Set(seed int64, rules []R) {
	own := cloneAll(rules)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seed, d.rules = seed, own
	d.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	d.used = make([]int, len(own))
}

// Profile returns the seed and copies of the rules (never nil, so they
// encode as a JSON array).
func (d *Dice[R]) Profile() (seed int64, rules []R) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seed, cloneAll(d.rules)
}

// Roll picks the rule for one operation among those match accepts: it
// returns the rule's index (-1 when none applies) and copy, and the delay
// the rule asks for. The picked rule's use is counted.
func (d *Dice[R]) Roll(match func(R) bool) (index int, rule R, delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, r := range d.rules {
		t := r.Timing()
		if !match(r) {
			continue
		}
		if t.Count > 0 && d.used[i] >= t.Count {
			continue
		}
		if t.Ratio != nil && *t.Ratio < 1 && !(d.rng.Float64() < *t.Ratio) {
			continue
		}
		d.used[i]++
		delay = time.Duration(t.LatencyMs) * time.Millisecond
		if t.Latency != nil {
			delay = t.Latency.Sample(d.rng)
		}
		return i, r.Clone(), delay
	}
	return -1, rule, 0
}

func cloneAll[R Rule[R]](rules []R) []R {
	out := make([]R, len(rules))
	for i, r := range rules {
		out[i] = r.Clone()
	}
	return out
}
