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
//	cifbridge_ledger_up                      1 when the store answered this scrape, else 0
//
// A store that cannot be read (a cluster's bucket while JetStream elects
// its leaders) leaves out the series it could not read and sets
// cifbridge_ledger_up to 0, instead of failing the whole scrape.
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
	upDesc = prometheus.NewDesc("cifbridge_ledger_up",
		"1 when the duplicate ledger answered this scrape, 0 when it could not be read (its other series are then left out).", nil, nil)
)

type collector struct{ l Store }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- entriesDesc
	ch <- suspectedDesc
	ch <- confirmedDesc
	ch <- prunedDesc
	ch <- upDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := 1.0
	if counts, err := c.l.Counts(ctx); err != nil {
		up = 0
	} else {
		for _, s := range protocol.LedgerStatuses {
			ch <- prometheus.MustNewConstMetric(entriesDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	if t, err := c.l.Totals(ctx); err != nil {
		up = 0
	} else {
		ch <- prometheus.MustNewConstMetric(suspectedDesc, prometheus.CounterValue, float64(t.Suspected))
		ch <- prometheus.MustNewConstMetric(confirmedDesc, prometheus.CounterValue, float64(t.Confirmed))
	}
	if n, err := c.l.Pruned(ctx); err != nil {
		up = 0
	} else {
		ch <- prometheus.MustNewConstMetric(prunedDesc, prometheus.CounterValue, float64(n))
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
}
