package correlation

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The deadline heap against a plain list: random pushes, removals from
// anywhere and pops of what is due (at most max at a time) give the
// earliest entries in order, and every entry knows its slot.
func TestDeadlineHeapMatchesSortedList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now()
	d := deadlines{epoch: t0}
	defer d.stop()
	at := map[*entry]time.Time{}
	fire := func() {}
	var ref []*entry // what the heap should hold, any order
	for step := range 20_000 {
		switch op := rng.IntN(10); {
		case op < 5:
			e := &entry{}
			at[e] = t0.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			d.push(e, at[e], fire)
			ref = append(ref, e)
		case op < 8 && len(ref) > 0:
			i := rng.IntN(len(ref))
			d.remove(ref[i])
			ref = slices.Delete(ref, i, i+1)
		default:
			now := t0.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
			max := 1 + rng.IntN(20)
			got := d.due(now, max, nil, fire)
			ref = slices.DeleteFunc(ref, func(e *entry) bool { return slices.Contains(got, e) })
			due := len(got)
			for _, e := range ref {
				if !at[e].After(now) {
					due++
					if len(got) > 0 && at[e].Before(at[got[len(got)-1]]) {
						t.Fatalf("step %d: an earlier entry was left in the heap", step)
					}
				}
			}
			if len(got) != min(max, due) {
				t.Fatalf("step %d: %d popped, want %d", step, len(got), min(max, due))
			}
			for i, e := range got {
				if at[e].After(now) || i > 0 && at[e].Before(at[got[i-1]]) {
					t.Fatalf("step %d: popped one not due, or out of order", step)
				}
				if e.slot != 0 {
					t.Fatalf("step %d: a popped entry kept slot %d", step, e.slot)
				}
			}
			// Push back later, so the heap stays busy.
			for _, e := range got {
				at[e] = now.Add(time.Duration(1+rng.IntN(500)) * time.Millisecond)
				d.push(e, at[e], fire)
				ref = append(ref, e)
			}
		}
		if len(d.heap) != len(ref) {
			t.Fatalf("step %d: heap holds %d, want %d", step, len(d.heap), len(ref))
		}
		for i, e := range d.heap {
			if e.e.slot != i+1 {
				t.Fatalf("step %d: entry at %d has slot %d", step, i, e.e.slot)
			}
			if i > 0 && e.at < d.heap[(i-1)/4].at {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
	}
}
