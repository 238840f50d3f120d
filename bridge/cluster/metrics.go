package cluster

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cifbridge/cifbridge/protocol"
)

// Metrics count the calls this node sends to other nodes. Labels are
// bounded: kind is "backend", "host" or "event"; outcome is "ok",
// "error" (the executor's own error), "no_responders", "timeout" (the
// caller stopped waiting) or "lost".
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	late     *prometheus.CounterVec
}

// NewMetrics returns the series; register them with Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cifbridge_cluster_calls_total", Help: "Calls sent to other nodes of the cluster, by kind (backend, host, event) and outcome (ok, error, no_responders, timeout, lost).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cifbridge_cluster_call_duration_seconds", Help: "Time from sending a call to another node to its answer, by kind.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1, 10, 100},
		}, []string{"kind"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cifbridge_cluster_late_answers_total", Help: "Late answers in the durable stream, by event: stored (this node ran the attempt and stored its answer), store_failed (JetStream did not take it: it travels over the router only), delivered (this node holds the session and delivered a stored answer), claimed_undelivered (the session left this node between the claim and the delivery), elsewhere (this node's own late answer was left to the node holding the session).",
		}, []string{"event"}),
	}
}

// Collectors are the series to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.calls, m.duration, m.late}
}

// observe records one call of kind that started at start and ended with
// err (as Backend.Execute returns it). A nil *Metrics records nothing.
func (m *Metrics) observe(kind string, start time.Time, err error) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(kind, outcomeOf(err)).Inc()
	if err == nil || outcomeOf(err) == "error" {
		m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	}
}

// lateEvent counts one late-answer event (see NewMetrics). A nil *Metrics
// records nothing.
func (m *Metrics) lateEvent(event string) {
	if m != nil {
		m.late.WithLabelValues(event).Inc()
	}
}

func outcomeOf(err error) string {
	var pe *protocol.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &pe) && pe.Code == protocol.CodeNoBackend && isNobody(err):
		return "no_responders"
	case errors.As(err, &pe) && pe.Code == protocol.CodeNoBackend:
		return "lost"
	case errors.As(err, &pe):
		return "error"
	}
	return "timeout"
}
