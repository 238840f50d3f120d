package bridge

import (
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// endedLateMax is how many ended late records the dashboard stream lists.
const endedLateMax = 50

// endedLate keeps the last endedLateMax late records that ended (answered
// late or expired), so the dashboard shows each one's own lateness and
// outcome instead of guessing them from counters.
type endedLate struct {
	mu   sync.Mutex
	ring [endedLateMax]protocol.EndedLate
	n    int // records ever added
}

func (r *endedLate) add(l correlation.Late, at time.Time) {
	e := protocol.EndedLate{
		At: at.UTC(), Session: l.Info.Session, AttemptID: l.Info.ID, Method: l.Info.Method,
		WidgetMethod: l.Info.WidgetMethod, State: l.Info.State, LateByMs: l.LateBy.Milliseconds(),
	}
	switch {
	case l.Expired:
		e.Outcome = protocol.OutcomeExpired
	case l.Err != nil:
		e.Outcome, e.Error = protocol.OutcomeFailure, protocol.AsError(l.Err)
	default:
		e.Outcome = protocol.OutcomeSuccess
	}
	r.mu.Lock()
	r.ring[r.n%endedLateMax] = e
	r.n++
	r.mu.Unlock()
}

// list returns the kept records, newest first, never nil.
func (r *endedLate) list() []protocol.EndedLate {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := min(r.n, endedLateMax)
	out := make([]protocol.EndedLate, 0, k)
	for i := 1; i <= k; i++ {
		out = append(out, r.ring[(r.n-i)%endedLateMax])
	}
	return out
}
