package faultdice_test

import (
	"slices"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/internal/faultdice"
	"github.com/cifbridge/cifbridge/protocol"
)

func ratio(x float64) *float64 { return &x }

func always(protocol.FaultRule) bool { return true }

// TestRollOrderAndCount: the first matching rule applies until its count is
// used up, then the next; a rule the match refuses is skipped.
func TestRollOrderAndCount(t *testing.T) {
	var d faultdice.Dice[protocol.FaultRule]
	d.Set(1, []protocol.FaultRule{
		{Method: "search", LatencyMs: 7},
		{Method: "createrecord", LatencyMs: 10, Count: 2},
		{Method: "createrecord", LatencyMs: 20},
	})
	creates := func(r protocol.FaultRule) bool { return r.Method == "createrecord" }
	var got []int
	for range 4 {
		i, r, delay := d.Roll(creates)
		if delay != time.Duration(r.LatencyMs)*time.Millisecond {
			t.Fatalf("rule %d: delay %v, want its latencyMs %d", i, delay, r.LatencyMs)
		}
		got = append(got, i)
	}
	if want := []int{1, 1, 2, 2}; !slices.Equal(got, want) {
		t.Fatalf("rules %v, want %v", got, want)
	}
	if i, _, delay := d.Roll(func(protocol.FaultRule) bool { return false }); i != -1 || delay != 0 {
		t.Fatalf("no match: rule %d delay %v", i, delay)
	}
}

// TestRollRepeatsPerSeed: the same seed and the same operations pick the
// same rules and delays; Set restarts the draws and the counts.
func TestRollRepeatsPerSeed(t *testing.T) {
	rules := []protocol.FaultRule{
		{Method: "*", Ratio: ratio(0.3), Latency: &protocol.Dist{Kind: "uniform", MinMs: 1, MaxMs: 1000}},
		{Method: "*", Count: 3},
	}
	run := func(d *faultdice.Dice[protocol.FaultRule]) (picks []int, delays []time.Duration) {
		for range 50 {
			i, _, delay := d.Roll(always)
			picks, delays = append(picks, i), append(delays, delay)
		}
		return picks, delays
	}
	var a, b faultdice.Dice[protocol.FaultRule]
	a.Set(42, rules)
	b.Set(42, rules)
	pa, da := run(&a)
	pb, db := run(&b)
	if !slices.Equal(pa, pb) || !slices.Equal(da, db) {
		t.Fatalf("same seed, other picks:\n%v %v\n%v %v", pa, da, pb, db)
	}
	hits := 0
	for _, i := range pa {
		if i == 0 {
			hits++
		}
	}
	if hits == 0 || hits == 50 {
		t.Fatalf("a 0.3 ratio applied %d times of 50", hits)
	}
	a.Set(42, rules)
	if pa2, da2 := run(&a); !slices.Equal(pa, pa2) || !slices.Equal(da, da2) {
		t.Fatal("Set did not restart the draws and counts")
	}
}

// TestProfileIsACopy: what Set was given and what Profile returns share no
// pointer with the active rules; an empty profile lists no rules as [].
func TestProfileIsACopy(t *testing.T) {
	var d faultdice.Dice[protocol.FaultRule]
	if seed, rules := d.Profile(); seed != 0 || rules == nil || len(rules) != 0 {
		t.Fatalf("zero Dice: %d %v", seed, rules)
	}
	in := []protocol.FaultRule{{Method: "*", Ratio: ratio(1), Error: &protocol.FaultError{Status: 503, Code: "x", Message: "y"}}}
	d.Set(5, in)
	*in[0].Ratio = 0
	in[0].Error.Status = 500
	seed, out := d.Profile()
	if seed != 5 || *out[0].Ratio != 1 || out[0].Error.Status != 503 {
		t.Fatalf("the caller's rules changed the active ones: %d %+v", seed, out[0])
	}
	out[0].Error.Status = 400
	if _, r, _ := d.Roll(always); r.Error.Status != 503 {
		t.Fatalf("Profile's copy changed the active rule: %+v", r.Error)
	}
}
