package loadtest

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: 1 µs .. 120 s at 3 significant figures, in microseconds.
const (
	histMin    = 1
	histMax    = 120_000_000
	histSigFig = 3
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histSigFig) }

func recordUs(h *hdr.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	_ = h.RecordValue(us)
}

// phase of a call, from its scheduled time.
type phase uint8

const (
	phaseSeed     phase = iota // seeding records before the load
	phaseWarmup                // counted in totals, not in latency statistics
	phaseMeasured              // everything
)

// methodCounts counts the calls of one method.
type methodCounts struct {
	Sent     int64           `json:"sent"`
	Answered int64           `json:"answered"`
	OK       int64           `json:"ok"`
	Errors   map[int64]int64 `json:"errorsByCode,omitempty"`
	Timeouts int64           `json:"timeouts"`
}

func (c *methodCounts) add(code int64) {
	c.Answered++
	if code == 0 {
		c.OK++
		return
	}
	if c.Errors == nil {
		c.Errors = map[int64]int64{}
	}
	c.Errors[code]++
	if code == codeTimeout {
		c.Timeouts++
	}
}

func (c *methodCounts) merge(o *methodCounts) {
	c.Sent += o.Sent
	c.Answered += o.Answered
	c.OK += o.OK
	c.Timeouts += o.Timeouts
	for k, v := range o.Errors {
		if c.Errors == nil {
			c.Errors = map[int64]int64{}
		}
		c.Errors[k] += v
	}
}

// methodStats is the measured phase of one method.
type methodStats struct {
	methodCounts
	hist *hdr.Histogram
}

// shard is one slice of the statistics; sessions are spread over shards so
// that recording rarely contends.
type shard struct {
	mu sync.Mutex
	// measured phase
	all      *hdr.Histogram
	byMethod map[string]*methodStats
	// every phase (seed, warmup, measured): the ground-truth comparison
	totals map[string]*methodCounts
	// since the last tick
	interval                                    *hdr.Histogram
	intervalN, intervalErrors, intervalTimeouts int64
}

func newShard() *shard {
	return &shard{all: newHist(), interval: newHist(), byMethod: map[string]*methodStats{}, totals: map[string]*methodCounts{}}
}

func (sh *shard) total(method string) *methodCounts {
	c := sh.totals[method]
	if c == nil {
		c = &methodCounts{}
		sh.totals[method] = c
	}
	return c
}

func (sh *shard) measured(method string) *methodStats {
	m := sh.byMethod[method]
	if m == nil {
		m = &methodStats{hist: newHist()}
		sh.byMethod[method] = m
	}
	return m
}

func (sh *shard) sent(method string, ph phase) {
	sh.mu.Lock()
	sh.total(method).Sent++
	if ph == phaseMeasured {
		sh.measured(method).Sent++
	}
	sh.mu.Unlock()
}

// answered records one answer: code 0 is a success.
func (sh *shard) answered(method string, ph phase, lat time.Duration, code int64) {
	sh.mu.Lock()
	sh.total(method).add(code)
	if ph == phaseMeasured {
		m := sh.measured(method)
		m.add(code)
		recordUs(m.hist, lat)
		recordUs(sh.all, lat)
		recordUs(sh.interval, lat)
		sh.intervalN++
		if code != 0 {
			sh.intervalErrors++
		}
		if code == codeTimeout {
			sh.intervalTimeouts++
		}
	}
	sh.mu.Unlock()
}

// TimelinePoint is one second of the measured phase.
type TimelinePoint struct {
	T        float64 `json:"t"`     // seconds since the measured phase began
	Rate     float64 `json:"rate"`  // answers per second
	P50Us    int64   `json:"p50Us"` // latency of the answers in this second
	P90Us    int64   `json:"p90Us"`
	P99Us    int64   `json:"p99Us"`
	MaxUs    int64   `json:"maxUs"`
	Errors   int64   `json:"errors"`
	Timeouts int64   `json:"timeouts"`
}

// stats is every shard plus the timeline.
type stats struct {
	shards []*shard
	mu     sync.Mutex // guards timeline
	tl     []TimelinePoint
}

func newStats(n int) *stats {
	s := &stats{}
	for range n {
		s.shards = append(s.shards, newShard())
	}
	return s
}

// tick closes the current interval as a timeline point at t.
func (s *stats) tick(t, dt time.Duration, measured bool) TimelinePoint {
	h := newHist()
	var n, errs, tos int64
	for _, sh := range s.shards {
		sh.mu.Lock()
		h.Merge(sh.interval)
		sh.interval.Reset()
		n += sh.intervalN
		errs += sh.intervalErrors
		tos += sh.intervalTimeouts
		sh.intervalN, sh.intervalErrors, sh.intervalTimeouts = 0, 0, 0
		sh.mu.Unlock()
	}
	p := TimelinePoint{T: t.Seconds(), Errors: errs, Timeouts: tos}
	if dt > 0 {
		p.Rate = float64(n) / dt.Seconds()
	}
	if n > 0 {
		p.P50Us, p.P90Us, p.P99Us, p.MaxUs = h.ValueAtQuantile(50), h.ValueAtQuantile(90), h.ValueAtQuantile(99), h.Max()
	}
	if measured {
		s.mu.Lock()
		s.tl = append(s.tl, p)
		s.mu.Unlock()
	}
	return p
}

// merged returns the measured histogram, per-method stats and totals.
func (s *stats) merged() (*hdr.Histogram, map[string]*methodStats, map[string]*methodCounts) {
	all := newHist()
	byMethod := map[string]*methodStats{}
	totals := map[string]*methodCounts{}
	for _, sh := range s.shards {
		sh.mu.Lock()
		all.Merge(sh.all)
		for m, st := range sh.byMethod {
			d := byMethod[m]
			if d == nil {
				d = &methodStats{hist: newHist()}
				byMethod[m] = d
			}
			d.merge(&st.methodCounts)
			d.hist.Merge(st.hist)
		}
		for m, c := range sh.totals {
			d := totals[m]
			if d == nil {
				d = &methodCounts{}
				totals[m] = d
			}
			d.merge(c)
		}
		sh.mu.Unlock()
	}
	return all, byMethod, totals
}

// soFar is the measured histogram so far (for the live line).
func (s *stats) soFar() *hdr.Histogram {
	all := newHist()
	for _, sh := range s.shards {
		sh.mu.Lock()
		all.Merge(sh.all)
		sh.mu.Unlock()
	}
	return all
}
