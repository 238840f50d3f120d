package loadtest

import (
	"sync/atomic"
	"time"
)

// The open loop's send times are kept by one pacer goroutine that sleeps in
// the kernel (precise to tens of microseconds), not by a Go timer per
// session: the runtime waits for its timers in epoll_wait, whose timeout is
// in whole milliseconds, so a timer due in under a millisecond on an
// otherwise idle client fires up to a millisecond late (Go 1.26,
// runtime/netpoll_epoll.go). Latency counts from the scheduled send time,
// so that lateness was the generator's, charged to the server: measured
// at 39 000 calls/s over 64 sessions, the per-session timers sent p90
// 0.7 ms and p99 1.3 ms behind schedule against the raw echo.

// paceQuantum is the shortest sleep of the pacer: at high rates it wakes at
// most every paceQuantum and releases every send due by then, so that its
// own wakeups stay cheap (at most 1/paceQuantum a second).
const paceQuantum = 50 * time.Microsecond

// paceCoarse is how far ahead of a send the pacer may sleep on the
// runtime's timer instead of in the kernel (a timer may wake up to 1 ms
// late; the pacer then sleeps the rest in the kernel).
const paceCoarse = 2 * time.Millisecond

// pacedSession is the pacer's side of one session: due is how many of its
// scheduled sends are released, wake tells its sender goroutine.
type pacedSession struct {
	due  atomic.Int64
	wake chan struct{}
}

// pace releases every session's sends at their scheduled times until r.end
// (or the run stops), then closes stop. Session i's k-th send is due at
// loadStart + interval×i/n + k×interval: the sessions take turns in index
// order, so the next send over all sessions is always (i, k) round-robin.
// A send scheduled before r.end that the pacer had not released when the
// run's sending stopped (the pacer got no CPU in time) counts as dropped:
// every scheduled send is either sent or counted.
func (r *runner) pace(ps []*pacedSession, loadStart, interval time.Duration, stop chan<- struct{}) {
	defer close(stop)
	sleep := kernelSleeper()
	defer sleep.release()
	n := time.Duration(len(ps))
	var i int
	var k int64
	at := func() time.Duration { return loadStart + interval*time.Duration(i)/n + interval*time.Duration(k) }
	defer func() {
		if r.ctx.Err() != nil {
			return // cut short: the report says the run was truncated
		}
		for at() < r.end {
			r.dropped.Add(1)
			if i++; i == len(ps) {
				i, k = 0, k+1
			}
		}
	}()
	for r.sending.Load() && r.ctx.Err() == nil {
		next := at()
		if next >= r.end {
			return
		}
		now := r.since()
		if wait := next - now; wait > 0 {
			switch {
			case wait > paceCoarse:
				time.Sleep(min(wait-paceCoarse/2, 50*time.Millisecond))
			default:
				sleep.sleep(max(wait, paceQuantum))
			}
			continue
		}
		for next <= now && next < r.end {
			p := ps[i]
			p.due.Store(k + 1)
			select {
			case p.wake <- struct{}{}:
			default: // already told
			}
			if i++; i == len(ps) {
				i, k = 0, k+1
			}
			next = at()
		}
	}
}

// sendPaced is the sender of one session in the open loop: it sends each
// call the pacer released, latency counted from its scheduled time. A send
// more than MaxSendLag late, or over the in-flight cap, is dropped and
// counted.
func (r *runner) sendPaced(s *session, p *pacedSession, loadStart, interval time.Duration, stop <-chan struct{}) {
	n := time.Duration(r.cfg.Sessions)
	offset := loadStart + interval*time.Duration(s.idx)/n
	var k int64
	for {
		stopped := false
		select {
		case <-p.wake:
		case <-stop:
			stopped = true
		case <-r.ctx.Done():
			return
		}
		for due := p.due.Load(); k < due; k++ {
			next := offset + interval*time.Duration(k)
			if r.since()-next > r.cfg.MaxSendLag {
				r.dropped.Add(1)
				continue
			}
			s.send("", next, r.phaseAt(next), r.cfg.MaxInFlight)
		}
		if stopped {
			return
		}
	}
}
