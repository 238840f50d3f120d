package loadtest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// scheduled is how many sends of a session whose first is due at offset
// fall at or before t (and before end).
func scheduled(offset, interval, t, end time.Duration) int64 {
	t = min(t, end-1)
	if t < offset {
		return 0
	}
	return int64((t-offset)/interval) + 1
}

// The pacer never releases a send before its scheduled time, and by the end
// it has released every send scheduled before it, to every session.
func TestPacerReleasesEverySendOnTimeNeverEarly(t *testing.T) {
	const n = 8
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &runner{cfg: Config{Sessions: n, Rate: 8000}, ctx: ctx, start: time.Now()}
	loadStart := 5 * time.Millisecond
	r.end = loadStart + 300*time.Millisecond
	r.sending.Store(true)
	interval := time.Duration(float64(time.Second) * n / r.cfg.Rate) // 1 ms a session
	ps := make([]*pacedSession, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	early := make(chan string, n)
	for i := range ps {
		ps[i] = &pacedSession{wake: make(chan struct{}, 1)}
		offset := loadStart + interval*time.Duration(i)/n
		wg.Go(func() {
			for {
				select {
				case <-ps[i].wake:
				case <-stop:
					return
				}
				due := ps[i].due.Load()
				if now := r.since(); due > scheduled(offset, interval, now, r.end) {
					early <- "session released before its time"
					return
				}
			}
		})
	}
	r.pace(ps, loadStart, interval, stop)
	wg.Wait()
	close(early)
	for msg := range early {
		t.Fatal(msg)
	}
	for i, p := range ps {
		offset := loadStart + interval*time.Duration(i)/n
		if got, want := p.due.Load(), scheduled(offset, interval, r.end, r.end); got != want {
			t.Errorf("session %d: %d sends released, want every one scheduled before the end: %d", i, got, want)
		}
	}
}

// An open-loop run against a WebSocket echo sends every scheduled call
// (none dropped at a rate the machine easily keeps) and counts every echo
// as answered.
func TestOpenLoopSendsEveryScheduledCall(t *testing.T) {
	srv := answeringServer(t, func(msg []byte) []byte { return msg }) // an echo
	defer srv.Close()
	const sessions, rate = 4, 400.0
	duration := 500 * time.Millisecond
	rep, err := Run(context.Background(), Config{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + protocol.PathWidget, Echo: true, SeedRecords: -1,
		Sessions: sessions, Rate: rate, Duration: duration, Drain: 5 * time.Second, LateWait: time.Millisecond,
		Mix: Mix{{Method: protocol.MethodCreateRecord, Weight: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	interval := time.Duration(float64(time.Second) * sessions / rate)
	for i := range sessions {
		want += scheduled(interval*time.Duration(i)/sessions, interval, duration, duration)
	}
	got := rep.Totals[protocol.MethodCreateRecord]
	if got == nil || got.Sent+rep.Dropped != want {
		t.Fatalf("sent %+v, dropped %d: want %d scheduled sends in all", got, rep.Dropped, want)
	}
	if got.Answered != got.Sent || rep.Errors != 0 {
		t.Errorf("answered %d of %d sent, %d errors: the echo answers every call", got.Answered, got.Sent, rep.Errors)
	}
	if rep.Dropped > want/20 {
		t.Errorf("%d of %d sends dropped at %v calls/s", rep.Dropped, want, rate)
	}
}

// A pacer that got no CPU until the run's sending stopped releases nothing
// late: every send scheduled before the end counts as dropped, so that sent
// plus dropped is still every scheduled send.
func TestPacerStarvedCountsTheUnreleasedAsDropped(t *testing.T) {
	const n = 4
	r := &runner{cfg: Config{Sessions: n, Rate: 4000}, ctx: context.Background(), start: time.Now()}
	loadStart := time.Hour // not due yet: only the stop can end the pacer
	r.end = loadStart + 10*time.Millisecond
	interval := time.Duration(float64(time.Second) * n / r.cfg.Rate) // 1 ms a session
	ps := make([]*pacedSession, n)
	for i := range ps {
		ps[i] = &pacedSession{wake: make(chan struct{}, 1)}
	}
	// sending already stopped
	stop := make(chan struct{})
	r.pace(ps, loadStart, interval, stop)
	var want int64
	for i := range n {
		want += scheduled(loadStart+interval*time.Duration(i)/n, interval, r.end, r.end)
	}
	for i, p := range ps {
		if got := p.due.Load(); got != 0 {
			t.Errorf("session %d: %d sends released after the run stopped sending", i, got)
		}
	}
	if got := r.dropped.Load(); got != want || want != 40 {
		t.Errorf("dropped %d, want every send scheduled before the end: %d (40)", got, want)
	}
	select {
	case <-stop:
	default:
		t.Error("stop not closed")
	}
}
