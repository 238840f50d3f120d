package loadtest

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		name, in, want string
		bad            bool
	}{
		{name: "short cif names", in: "createrecord=5,retrieverecord=3,updaterecord=2", want: "cif.createrecord=5,cif.retrieverecord=3,cif.updaterecord=2"},
		{name: "full names and xrm", in: "cif.search=1, xrm.createRecord=2,enreach.xrm.retrieveRecord", want: "cif.search=1,enreach.xrm.createRecord=2,enreach.xrm.retrieveRecord=1"},
		{name: "xrm execute", in: "xrm.execute=2,enreach.xrm.updaterecord=1", want: "enreach.xrm.execute=2,enreach.xrm.updateRecord=1"},
		{name: "zero weight dropped", in: "getmode=0,getenvironment=1", want: "cif.getenvironment=1"},
		{name: "unknown", in: "createrecord=1,frobnicate=1", bad: true},
		{name: "negative", in: "createrecord=-1", bad: true},
		{name: "twice", in: "createrecord=1,cif.createrecord=2", bad: true},
		{name: "empty", in: " , ", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMix(tc.in)
			if tc.bad {
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("got %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPickerFollowsWeights(t *testing.T) {
	p := newPicker(Mix{{"a", 1}, {"b", 3}})
	n := map[string]int{}
	for i := range 4000 {
		n[p.pick(i)]++
	}
	if n["a"] != 1000 || n["b"] != 3000 {
		t.Errorf("picks %v, want a×1000 b×3000", n)
	}
}

func TestPoolSizeFitsTheEmulatorBound(t *testing.T) {
	for _, tc := range []struct{ max, sessions, want int }{
		{0, 64, poolCap},        // no bound
		{100_000, 64, 390},      // 64 × 390 ≤ 25 000
		{100_000, 10, poolCap},  // plenty of room
		{10_000, 64, 39},        //
		{10_000, 10_000, 8},     // never below 8
		{-1, 5, poolCap},        // unknown
		{1_000_000, 0, poolCap}, // no sessions (cannot happen): default
	} {
		if got := poolSize(tc.max, tc.sessions); got != tc.want {
			t.Errorf("poolSize(%d, %d) = %d, want %d", tc.max, tc.sessions, got, tc.want)
		}
		if tc.max > 0 && tc.sessions > 0 && tc.want > 8 && 4*tc.sessions*tc.want > tc.max {
			t.Errorf("pools of %d × %d exceed a quarter of %d", tc.sessions, tc.want, tc.max)
		}
	}
	p := &idPool{max: 3}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		p.add(id)
	}
	if len(p.ids) != 3 || p.ids[0].id != "d" || p.ids[1].id != "e" || p.ids[2].id != "c" {
		t.Fatalf("pool of 3 after 5 adds: %v", p.ids)
	}
}

// TestPooledIDsAgeByCreates: a session's pool forgets ids older than half
// the emulator's bound, counted in creates over every session, so a
// session that lags the others never names a record the emulator evicted;
// a pool without aging (none is built so) would keep its ids.
func TestPooledIDsAgeByCreates(t *testing.T) {
	clock := newCreateClock(4) // maxAge 2
	if clock.maxAge != 2 {
		t.Fatalf("maxAge for a bound of 4 = %d, want 2", clock.maxAge)
	}
	keep := &idPool{clock: clock} // no aging
	slow := &idPool{max: 3, clock: clock, aging: true}
	busy := &idPool{max: 3, clock: clock, aging: true}
	r := rand.New(rand.NewPCG(1, 2))
	keep.add("seed") // 1
	slow.add("a")    // 2
	busy.add("x")    // 3
	busy.add("y")    // 4: "a" is 2 creates old, still safe
	if id, ok := slow.pick(r); !ok || id != "a" {
		t.Fatalf("pick at age 2 = %q, %v; want a", id, ok)
	}
	busy.add("z") // 5: "a" is 3 old, past half the bound
	if id, ok := slow.pick(r); ok {
		t.Fatalf("pick at age 3 = %q; want none (the emulator may have evicted it)", id)
	}
	if id, ok := keep.pick(r); !ok || id != "seed" {
		t.Fatalf("shared pick = %q, %v; want the seed: a pool without aging keeps it", id, ok)
	}
	// A full ring that drops its stale ids keeps the rest oldest first, so
	// later adds overwrite the oldest.
	busy.add("w") // 6: busy holds y(4) z(5) w(6), x overwritten
	for range 3 {
		clock.n.Add(1) // 9: y is 5 old, z 4, w 3: all stale
	}
	busy.add("v") // 10, overwrites y: w v z
	busy.mu.Lock()
	busy.dropStale()
	busy.mu.Unlock()
	if len(busy.ids) != 1 || busy.ids[0].id != "v" || busy.pos != 0 {
		t.Fatalf("after dropping stale ids: %v pos %d, want [v] pos 0", busy.ids, busy.pos)
	}
	if id, ok := busy.pick(r); !ok || id != "v" {
		t.Fatalf("pick after three stale ids = %q, %v; want v", id, ok)
	}
	for _, id := range []string{"p", "q", "r"} {
		busy.add(id)
	}
	if busy.ids[0].id != "r" || busy.ids[1].id != "p" || busy.ids[2].id != "q" {
		t.Fatalf("ring after refill: %v, want r p q (v overwritten first)", busy.ids)
	}
	if noBound := newCreateClock(0); noBound.maxAge != 0 {
		t.Fatalf("no bound: maxAge %d, want 0 (ids never age)", noBound.maxAge)
	}
}
