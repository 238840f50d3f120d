package bridge

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/cifbridge/cifbridge/protocol"
)

// metrics are the daemon's Prometheus series (DESIGN §9). Labels are bounded:
// methods outside the known set are counted as "other".
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inflight    prometheus.GaugeFunc
	timeouts    prometheus.CounterFunc
	lateAnswers *prometheus.CounterVec
	lateExpired prometheus.Counter
	overloaded  prometheus.Counter
	refusals    *prometheus.CounterVec
	conns       *prometheus.GaugeVec
	connRefused *prometheus.CounterVec
	// perMethod holds, for every method label, the series every answered
	// call touches, made on first use (so /metrics lists only methods that
	// were called): WithLabelValues hashes its labels under the vector's
	// lock on every call. The map itself is read-only once built.
	perMethod map[string]*methodSeries
}

// methodSeries are one method label's request series for the "ok"
// outcome and its duration histogram.
type methodSeries struct {
	label string
	// spec is the label's CIF call (protocol.CIFMethod), nil when it is
	// none: the reader needs both for a call (widgetConn.method).
	spec     *protocol.MethodSpec
	once     sync.Once
	ok       prometheus.Counter
	duration prometheus.Observer
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), perMethod: map[string]*methodSeries{"other": {label: "other"}}}
	for label := range methodLabels {
		m.perMethod[label] = &methodSeries{label: label, spec: protocol.CIFMethod(label)}
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cifbridge_requests_total", Help: "Widget requests by method and outcome (ok, or the JSON-RPC error code).",
	}, []string{"method", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "cifbridge_request_duration_seconds", Help: "Time to answer a widget request, from when its frame was read (where its CIF timeout starts).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 100},
	}, []string{"method"})
	m.inflight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cifbridge_inflight", Help: "Backend attempts awaiting an answer.",
	}, func() float64 { return float64(s.table.Stats().InFlight) })
	m.timeouts = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "cifbridge_timeouts_total", Help: "Attempts that got no answer within the CIF timeout.",
	}, func() float64 { return float64(s.table.Stats().Timeouts) })
	m.lateAnswers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cifbridge_late_answers_total", Help: "Answers that arrived after their attempt's CIF timeout.",
	}, []string{"method"})
	m.lateExpired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cifbridge_late_expired_total", Help: "Timed-out attempts that got no answer within the late-record window.",
	})
	m.overloaded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cifbridge_overloaded_total", Help: "Requests refused with -32003 because of the in-flight or call-rate limit.",
	})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cifbridge_refused_total", Help: "Widget calls and notifications refused at admission, by reason (draining, rate, inflight).",
	}, []string{"reason"})
	m.connRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cifbridge_connections_refused_total", Help: "WebSocket upgrades refused with 503 by a connection cap, by cap (global, per_ip).",
	}, []string{"cap"})
	m.conns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cifbridge_connections", Help: "Open WebSocket connections by role.",
	}, []string{"role"})
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cifbridge_sessions", Help: "Live widget sessions (including those waiting to be resumed).",
	}, func() float64 { return float64(s.sessions.count()) })
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cifbridge_build_info", Help: "Build information.", ConstLabels: prometheus.Labels{"version": s.cfg.Version},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.inflight, m.timeouts, m.lateAnswers, m.lateExpired, m.overloaded,
		m.refusals, m.connRefused, m.conns, sessions, build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// gatherer is what /metrics serves: the registry, every series labelled
// node=<node> when node is set (a cluster node), so series of several
// nodes stay apart once scraped into one place.
func (m *metrics) gatherer(node string) prometheus.Gatherer {
	if node == "" {
		return m.reg
	}
	name, value := "node", node
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := m.reg.Gather()
		for _, mf := range mfs {
			for _, metric := range mf.Metric {
				metric.Label = append(metric.Label, &dto.LabelPair{Name: &name, Value: &value})
			}
		}
		return mfs, err
	})
}

// Registry lets plug-ins (ledger, retry engine) register their own series.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// methodLabels are the values the method label may take besides "other":
// the widget methods, the CIF 2.0 calls passed to backends, the backend's
// xrm.execute and the known CIF events.
var methodLabels = func() map[string]bool {
	m := map[string]bool{protocol.BackendExecute: true}
	for _, name := range protocol.WidgetMethods {
		m[name] = true
	}
	for _, spec := range protocol.CIFMethods {
		if spec.Method != "" {
			m[spec.Method] = true
		}
	}
	for _, ev := range protocol.KnownEvents {
		m[protocol.EventPrefix+ev] = true
	}
	for _, ev := range protocol.CIFEvents {
		m[protocol.EventPrefix+ev.Name] = true
	}
	return m
}()

// methodLabel maps a method to its metric label: itself when it is in the
// known-method table, else "other", so clients cannot grow the label set.
func methodLabel(method string) string {
	if methodLabels[method] {
		return method
	}
	return "other"
}

// refused counts a call refused at admission.
func (m *metrics) refused(reason string) {
	m.refusals.WithLabelValues(reason).Inc()
	if reason != "draining" {
		m.overloaded.Inc()
	}
}

// observe records the outcome of a request that started at start and had
// its answer at end (zero: now).
func (m *metrics) observe(method string, start, end time.Time, err error) {
	m.observeOn(m.series(method), start, end, err)
}

// observeOn is observe on the series of the request's method.
func (m *metrics) observeOn(ms *methodSeries, start, end time.Time, err error) {
	var took time.Duration
	if end.IsZero() {
		took = time.Since(start)
	} else {
		took = end.Sub(start)
	}
	ms.duration.Observe(took.Seconds())
	if err == nil {
		ms.ok.Inc()
		return
	}
	var e *protocol.Error
	outcome := strconv.Itoa(protocol.CodeInternal)
	if errors.As(err, &e) {
		outcome = strconv.FormatInt(e.Code, 10)
	}
	m.requests.WithLabelValues(ms.label, outcome).Inc()
}

// series returns the series of a method's label (methodLabel): one map
// lookup, as perMethod holds every label (each its own method) and "other".
func (m *metrics) series(method string) *methodSeries {
	ms := m.perMethod[method]
	if ms == nil {
		ms = m.perMethod["other"]
	}
	ms.once.Do(func() {
		ms.ok, ms.duration = m.requests.WithLabelValues(ms.label, "ok"), m.duration.WithLabelValues(ms.label)
	})
	return ms
}
