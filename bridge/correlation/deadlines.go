package correlation

import "time"

// deadlines is the table's one timer: a 4-ary min-heap of the entries
// waiting for a time (an in-flight attempt for its CIF deadline or safety
// limit, a late record for the end of its window) and one runtime timer
// armed for the earliest. It replaces a runtime timer per attempt and one
// per late record: an attempt answered in time costs a push and a removal
// inside the critical sections Do and complete hold anyway, no timer Reset
// and Stop, and the select in Do waits on two channels instead of three.
// The keys sit in the heap's own array (nanoseconds since the table's
// epoch), so ordering reads no entry; with one timeout for every attempt a
// new deadline is the latest and a push stops at once.
//
// The timer is a time.AfterFunc made by the first push, so it belongs to the
// testing/synctest bubble of the table's first attempt, and no goroutine
// runs while nothing is due. Every method needs Table.mu held.
type deadlines struct {
	epoch time.Time // keys count from here (monotonic)
	heap  []deadline
	timer *time.Timer
	armed int64 // the key the timer fires at; valid when isArmed
	// isArmed is false when the timer is not armed.
	isArmed bool
}

type deadline struct {
	at int64 // nanoseconds since epoch
	e  *entry
}

// key is t as a heap key.
func (d *deadlines) key(t time.Time) int64 { return int64(t.Sub(d.epoch)) }

// push adds e, due at t, and arms the timer when e comes first.
func (d *deadlines) push(e *entry, t time.Time, fire func()) {
	at := d.key(t)
	d.heap = append(d.heap, deadline{at, e})
	e.slot = len(d.heap)
	d.up(len(d.heap) - 1)
	if !d.isArmed || at < d.armed {
		d.arm(at, fire)
	}
}

// remove takes e out of the heap, when it is in. The timer stays armed: if
// e came first, the timer fires for nothing once and re-arms for the next.
func (d *deadlines) remove(e *entry) {
	i := e.slot - 1
	if i < 0 {
		return
	}
	e.slot = 0
	last := len(d.heap) - 1
	moved := d.heap[last]
	d.heap[last] = deadline{}
	d.heap = d.heap[:last]
	if i == last {
		return
	}
	d.set(i, moved)
	d.down(i)
	d.up(i)
}

// due pops at most max entries due at or before now into out. When fewer
// were due it re-arms the timer for the next entry; otherwise the caller
// calls again.
func (d *deadlines) due(now time.Time, max int, out []*entry, fire func()) []*entry {
	d.isArmed = false
	k := d.key(now)
	for len(d.heap) > 0 && d.heap[0].at <= k {
		if len(out) == max {
			return out
		}
		e := d.heap[0].e
		d.remove(e)
		out = append(out, e)
	}
	if len(d.heap) > 0 {
		d.arm(d.heap[0].at, fire)
	}
	return out
}

func (d *deadlines) arm(at int64, fire func()) {
	d.armed, d.isArmed = at, true
	wait := time.Until(d.epoch.Add(time.Duration(at)))
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, fire)
		return
	}
	d.timer.Reset(wait)
}

// stop disarms the timer (the table closed).
func (d *deadlines) stop() {
	if d.timer != nil {
		d.timer.Stop()
	}
	d.isArmed = false
}

// set puts x at index i.
func (d *deadlines) set(i int, x deadline) {
	d.heap[i] = x
	x.e.slot = i + 1
}

func (d *deadlines) up(i int) {
	x := d.heap[i]
	for p := (i - 1) / 4; i > 0 && x.at < d.heap[p].at; p = (i - 1) / 4 {
		d.set(i, d.heap[p])
		i = p
	}
	d.set(i, x)
}

func (d *deadlines) down(i int) {
	x, n := d.heap[i], len(d.heap)
	for c := 4*i + 1; c < n; c = 4*i + 1 {
		m := c // the earliest child
		for j := c + 1; j < min(c+4, n); j++ {
			if d.heap[j].at < d.heap[m].at {
				m = j
			}
		}
		if d.heap[m].at >= x.at {
			break
		}
		d.set(i, d.heap[m])
		i = m
	}
	d.set(i, x)
}
