package ledger

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the ledger's Prometheus series, to register on the
// bridge's registry:
//
//	cifbridge_ledger_entries{status}         entries per status (read from the database at scrape time)
//	cifbridge_duplicates_suspected_total     entries that became suspected
//	cifbridge_duplicates_confirmed_total     entries that became confirmed
//
// The counters count transitions made by this process since it started.
func (l *Ledger) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		&entriesCollector{l: l},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cifbridge_duplicates_suspected_total",
			Help: "Logical creates flagged as possible duplicates (an attempt timed out).",
		}, func() float64 { return float64(l.suspected.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cifbridge_duplicates_confirmed_total",
			Help: "Logical creates whose late answers proved a duplicate record exists.",
		}, func() float64 { return float64(l.confirmed.Load()) }),
	}
}

var entriesDesc = prometheus.NewDesc("cifbridge_ledger_entries", "Duplicate-ledger entries by status.", []string{"status"}, nil)

type entriesCollector struct{ l *Ledger }

func (c *entriesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- entriesDesc }

func (c *entriesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.l.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(entriesDesc, err)
		return
	}
	for _, s := range Statuses {
		ch <- prometheus.MustNewConstMetric(entriesDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
