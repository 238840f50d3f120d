package loadtest

import (
	"errors"
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
	if len(p.ids) != 3 || p.ids[0] != "d" || p.ids[1] != "e" || p.ids[2] != "c" {
		t.Fatalf("pool of 3 after 5 adds: %v", p.ids)
	}
}
