package bridge

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// admission is a session's share of the one admission path: its call-rate
// limiter and the release func handed out for each admitted message (built
// once, so admitting allocates nothing). The in-flight count is
// Session.inflight.
type admission struct {
	once    sync.Once
	limiter *rate.Limiter // nil: no rate limit
	release func()
}

func (s *Server) admissionOf(sess *Session) *admission {
	a := &sess.adm
	a.once.Do(func() {
		if s.cfg.MaxCallRate > 0 {
			a.limiter = rate.NewLimiter(rate.Limit(s.cfg.MaxCallRate), s.cfg.CallBurst)
		}
		a.release = func() {
			sess.inflight.Add(-1)
			s.inflight.Add(-1)
		}
	})
	return a
}

// admit is the one admission path of a widget connection: every request,
// notification and batch item passes here, in the order the reader got
// them, before it runs. It refuses new work while draining (-32007), past
// the session's call rate (-32003 with data.retryAfterMs) and past its
// in-flight limit (-32003). A refused notification is dropped, as
// notifications get no answer; the drop is counted and logged (sampled).
func (wc *widgetConn) admit(m *protocol.Message) (func(), *protocol.Error) {
	s := wc.s
	if s.draining.Load() {
		wc.refused(m, "draining")
		return nil, errShuttingDown
	}
	sess := wc.sess.Load()
	a := s.admissionOf(sess)
	if a.limiter != nil && !a.limiter.Allow() {
		wc.refused(m, "rate")
		return nil, s.rateLimited(a.limiter)
	}
	if n := sess.inflight.Add(1); n > int64(s.cfg.MaxInFlight) {
		sess.inflight.Add(-1)
		wc.refused(m, "inflight")
		return nil, protocol.NewError(protocol.CodeOverloaded,
			"overloaded: this session already has "+strconv.Itoa(s.cfg.MaxInFlight)+" calls in flight (--max-inflight); retry later",
			protocol.OverloadedData{Limit: protocol.LimitInFlight})
	}
	s.inflight.Add(1)
	return a.release, nil
}

// rateLimited is the -32003 for a call past the session's rate; data says
// when a call would be admitted again.
func (s *Server) rateLimited(l *rate.Limiter) *protocol.Error {
	wait := time.Duration((1 - l.Tokens()) / float64(l.Limit()) * float64(time.Second))
	ms := int64(math.Ceil(float64(wait) / float64(time.Millisecond)))
	if ms < 1 {
		ms = 1
	}
	return protocol.NewError(protocol.CodeOverloaded,
		"overloaded: this session is over its call rate of "+strconv.FormatFloat(s.cfg.MaxCallRate, 'f', -1, 64)+" calls/s (--max-call-rate); retry after data.retryAfterMs",
		protocol.OverloadedData{Limit: protocol.LimitRate, RetryAfterMs: ms})
}

// refused counts a refusal and logs it, one line per reason per interval
// on this connection.
func (wc *widgetConn) refused(m *protocol.Message, reason string) {
	wc.s.metrics.refused(reason)
	if ok, n := wc.logs.Allow("refused:" + reason); ok {
		ev := wc.log.Warn().Str("reason", reason).Str("method", logcap.Str(m.Method)).Bool("notification", m.Kind == protocol.KindNotification)
		if n > 0 {
			ev = ev.Int("alsoRefused", n)
		}
		ev.Msg("refused a call at admission")
	}
}
