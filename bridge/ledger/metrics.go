package ledger

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the ledger's Prometheus series, to register on the
// bridge's registry. All are read from the database at scrape time, so they
// agree with the stored entries, across restarts too:
//
//	cifbridge_ledger_entries{status}         entries per status
//	cifbridge_duplicates_suspected_total     entries that have ever been suspected or confirmed
//	cifbridge_duplicates_confirmed_total     entries that have ever been confirmed (≤ suspected)
func (l *Ledger) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&collector{l: l}}
}

var (
	entriesDesc   = prometheus.NewDesc("cifbridge_ledger_entries", "Duplicate-ledger entries by status.", []string{"status"}, nil)
	suspectedDesc = prometheus.NewDesc("cifbridge_duplicates_suspected_total",
		"Logical creates ever flagged as possible duplicates (an attempt timed out, its outcome unknown), confirmed ones included.", nil, nil)
	confirmedDesc = prometheus.NewDesc("cifbridge_duplicates_confirmed_total",
		"Logical creates whose late answers ever proved a duplicate record exists (never more than the suspected total).", nil, nil)
)

type collector struct{ l *Ledger }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- entriesDesc
	ch <- suspectedDesc
	ch <- confirmedDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if counts, err := c.l.Counts(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(entriesDesc, err)
	} else {
		for _, s := range Statuses {
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
}
