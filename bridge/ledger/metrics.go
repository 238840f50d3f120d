package ledger

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cifbridge/cifbridge/protocol"
)

// Collectors returns the Prometheus series of l, to register on the
// bridge's registry. All are read from the store at scrape time, so they
// agree with the stored entries, across restarts too:
//
//	cifbridge_ledger_entries{status}         entries per status
//	cifbridge_duplicates_suspected_total     entries that have ever been suspected or confirmed
//	cifbridge_duplicates_confirmed_total     entries that have ever been confirmed (≤ suspected)
//	cifbridge_ledger_pruned_total            entries deleted by retention
func Collectors(l Store) []prometheus.Collector {
	return []prometheus.Collector{&collector{l: l}}
}

var (
	entriesDesc   = prometheus.NewDesc("cifbridge_ledger_entries", "Duplicate-ledger entries by status.", []string{"status"}, nil)
	suspectedDesc = prometheus.NewDesc("cifbridge_duplicates_suspected_total",
		"Logical creates ever flagged as possible duplicates (an attempt timed out, its outcome unknown), confirmed ones included.", nil, nil)
	confirmedDesc = prometheus.NewDesc("cifbridge_duplicates_confirmed_total",
		"Logical creates whose late answers ever proved a duplicate record exists (never more than the suspected total).", nil, nil)
	prunedDesc = prometheus.NewDesc("cifbridge_ledger_pruned_total",
		"Settled duplicate-ledger entries deleted by retention (--ledger-retention).", nil, nil)
)

type collector struct{ l Store }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- entriesDesc
	ch <- suspectedDesc
	ch <- confirmedDesc
	ch <- prunedDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if counts, err := c.l.Counts(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(entriesDesc, err)
	} else {
		for _, s := range protocol.LedgerStatuses {
			ch <- prometheus.MustNewConstMetric(entriesDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	if t, err := c.l.Totals(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(suspectedDesc, err)
		ch <- prometheus.NewInvalidMetric(confirmedDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(suspectedDesc, prometheus.CounterValue, float64(t.Suspected))
		ch <- prometheus.MustNewConstMetric(confirmedDesc, prometheus.CounterValue, float64(t.Confirmed))
	}
	if n, err := c.l.Pruned(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(prunedDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(prunedDesc, prometheus.CounterValue, float64(n))
	}
}
