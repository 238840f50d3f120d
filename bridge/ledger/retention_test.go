package ledger_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/ledgertest"
	"github.com/cifbridge/cifbridge/protocol"
)

// Retention deletes settled entries older than the retention, at start and
// then every interval, and never a suspected or confirmed one; the
// duplicate counters keep counting what it deleted, and the pruned count is
// a metric. Time is the bubble's: 30 days pass at once.
func TestRetentionPrunesSettledEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := ledgertest.New(t)
		old := map[protocol.LedgerStatus]string{}
		for _, st := range protocol.LedgerStatuses {
			e := ledgertest.Create(t, ctx, l, "old", st)
			old[st] = e.ID
		}
		before, _ := l.Totals(ctx)

		time.Sleep(20 * 24 * time.Hour)
		fresh := ledgertest.Create(t, ctx, l, "fresh", protocol.LedgerAcknowledged)
		// An old suspected entry touched now is young again.
		if _, err := ledger.Acknowledge(ctx, l, old[protocol.LedgerSuspected], "seen"); err != nil {
			t.Fatal(err)
		}

		rctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { ledger.Retention(rctx, l, 30*24*time.Hour, time.Hour, zerolog.Nop()) })
		synctest.Wait()
		if n, _ := l.Pruned(ctx); n != 0 {
			t.Fatalf("pruned %d entries at start; none is 30 days old yet", n)
		}

		time.Sleep(10*24*time.Hour + time.Hour) // the old entries pass 30 days; the next tick prunes
		synctest.Wait()
		for st, id := range old {
			_, err := l.Get(ctx, id)
			gone := errors.Is(err, ledger.ErrNotFound)
			want := st != protocol.LedgerSuspected && st != protocol.LedgerConfirmed
			if st == protocol.LedgerSuspected {
				want = false // acknowledged 10 days ago: kept
			}
			if gone != want {
				t.Errorf("%s entry: gone %v (err %v), want gone %v", st, gone, err, want)
			}
		}
		if _, err := l.Get(ctx, fresh.ID); err != nil {
			t.Errorf("an entry 10 days old was pruned: %v", err)
		}
		n, err := l.Pruned(ctx)
		if err != nil || n != len(ledger.Prunable) {
			t.Errorf("Pruned = %d, %v; want %d", n, err, len(ledger.Prunable))
		}
		if after, _ := l.Totals(ctx); after != before {
			t.Errorf("duplicate counters %+v after pruning, want them unchanged %+v", after, before)
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(ledger.Collectors(l)...)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var pruned float64 = -1
		for _, mf := range mfs {
			if mf.GetName() == "cifbridge_ledger_pruned_total" {
				pruned = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		if pruned != float64(len(ledger.Prunable)) {
			t.Errorf("cifbridge_ledger_pruned_total = %v, want %d", pruned, len(ledger.Prunable))
		}
		stop()
		wg.Wait()
	})
}

// Prune with a cutoff in the past deletes nothing; pruning a closed ledger
// is an error, not a panic.
func TestPruneEdges(t *testing.T) {
	ctx := context.Background()
	l := ledgertest.New(t)
	ledgertest.Create(t, ctx, l, "s", protocol.LedgerCleared)
	if n, err := l.Prune(ctx, time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Fatalf("Prune(an hour ago) = %d, %v; want 0", n, err)
	}
	if n, err := l.Prune(ctx, time.Now().Add(time.Second)); n != 1 || err != nil {
		t.Fatalf("Prune(now) = %d, %v; want 1", n, err)
	}
	l.Close()
	if _, err := l.Prune(ctx, time.Now()); err == nil {
		t.Fatal("Prune on a closed ledger succeeded")
	}
}
