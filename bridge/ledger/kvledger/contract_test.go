package kvledger_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/ledgertest"
	"github.com/cifbridge/cifbridge/protocol"
)

// mustCreate creates e through l or fails the test.
func mustCreate(t *testing.T, l ledger.Store, e protocol.LedgerEntry) protocol.LedgerEntry {
	t.Helper()
	got, err := l.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sample is an entry as the retry engine writes one.
var sample = ledgertest.Sample

// An entry created through one client (server A) is read, updated and
// acknowledged through another (server C); Create never overwrites; bad
// input gets the store's sentinel errors and writes nothing.
func TestContractCreateGetUpdate(t *testing.T) {
	forEachStore(t, func(t *testing.T, open opener) {
		ctx := ctxT(t)
		a, c := open(t, 0), open(t, 2)
		e := mustCreate(t, a, sample("s1", protocol.LedgerSuspected))
		if !strings.HasPrefix(e.ID, "L") || e.Version != 1 || e.Created.IsZero() || !e.Created.Equal(e.Updated) {
			t.Fatalf("created %+v", e)
		}
		got, err := c.Get(ctx, e.ID)
		if err != nil || got.ID != e.ID || got.Version != 1 || !got.Created.Equal(e.Created) || len(got.Attempts) != 2 || got.Attempts[1].RecordID != "r2" {
			t.Fatalf("get through the other server: %+v %v", got, err)
		}

		upd, err := c.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error {
			x.Status, x.Note = protocol.LedgerConfirmed, "two records"
			x.RecordIDs = append(x.RecordIDs, "r1")
			x.ID, x.Created = "forged", time.Time{} // the store restores both
			return nil
		})
		if err != nil || upd.Version != 2 || upd.ID != e.ID || !upd.Created.Equal(e.Created) || upd.Updated.Before(e.Updated) {
			t.Fatalf("update: %+v %v", upd, err)
		}
		back, _ := a.Get(ctx, e.ID)
		if back.Status != protocol.LedgerConfirmed || back.Note != "two records" || !slices.Equal(back.RecordIDs, []string{"r2", "r1"}) || back.Version != 2 {
			t.Fatalf("read back through A: %+v", back)
		}

		acked, err := ledger.Acknowledge(ctx, c, e.ID, "merged")
		if err != nil || acked.Status != protocol.LedgerAcknowledged || acked.Note != "merged" || acked.Version != 3 {
			t.Fatalf("acknowledge: %+v %v", acked, err)
		}

		boom := errors.New("boom")
		if _, err := a.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error { x.Note = "lost"; return boom }); !errors.Is(err, boom) {
			t.Fatalf("fn error: %v", err)
		}
		if _, err := a.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error { x.Status = "bogus"; return nil }); !errors.Is(err, ledger.ErrInvalid) {
			t.Fatalf("bad status on update: %v", err)
		}
		if x, _ := c.Get(ctx, e.ID); x.Note != "merged" || x.Version != 3 {
			t.Fatalf("a failed update wrote: %+v", x)
		}

		dup := sample("s2", protocol.LedgerSuspected)
		dup.ID = e.ID
		if _, err := c.Create(ctx, dup); !errors.Is(err, ledger.ErrExists) {
			t.Fatalf("create over an existing id: %v", err)
		}
		if x, _ := a.Get(ctx, e.ID); x.Session != "s1" || x.Version != 3 {
			t.Fatalf("create overwrote: %+v", x)
		}
		if _, err := a.Create(ctx, sample("s3", "bogus")); !errors.Is(err, ledger.ErrInvalid) {
			t.Fatalf("bad status on create: %v", err)
		}
		for _, id := range []string{"Lmissing", "a.b", "*", ""} {
			if _, err := c.Get(ctx, id); !errors.Is(err, ledger.ErrNotFound) {
				t.Fatalf("get %q: %v", id, err)
			}
			if _, err := c.Update(ctx, id, func(*protocol.LedgerEntry) error { return nil }); !errors.Is(err, ledger.ErrNotFound) {
				t.Fatalf("update %q: %v", id, err)
			}
		}
	})
}

// Two clients (on different servers) update one entry at once: every
// change lands, none is lost, and the version counts them all.
func TestContractConcurrentUpdatesLoseNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, open opener) {
		ctx := ctxT(t)
		clients := []ledger.Store{open(t, 0), open(t, 1)}
		e := mustCreate(t, clients[0], sample("s", protocol.LedgerSuspected))
		const each = 15
		var wg sync.WaitGroup
		for c, l := range clients {
			for i := range each {
				wg.Go(func() {
					if _, err := l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error {
						x.RecordIDs = append(x.RecordIDs, fmt.Sprintf("c%d-%d", c, i))
						return nil
					}); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		got, err := clients[1].Get(ctx, e.ID)
		if err != nil || len(got.RecordIDs) != 1+2*each || got.Version != 1+2*each {
			t.Fatalf("records %d version %d (want %d): %v", len(got.RecordIDs), got.Version, 1+2*each, err)
		}
		slices.Sort(got.RecordIDs)
		if len(slices.Compact(got.RecordIDs)) != 1+2*each {
			t.Fatalf("a change was applied twice: %v", got.RecordIDs)
		}
	})
}

// List filters by status, session and time, newest first, within its
// limit, and sees entries written through any server.
func TestContractList(t *testing.T) {
	forEachStore(t, func(t *testing.T, open opener) {
		ctx := ctxT(t)
		a, b := open(t, 0), open(t, 1)
		var ids []string
		for i, st := range []protocol.LedgerStatus{protocol.LedgerSuspected, protocol.LedgerConfirmed, protocol.LedgerSuspected, protocol.LedgerCleared} {
			e, err := []ledger.Store{a, b}[i%2].Create(ctx, sample(fmt.Sprint("s", i%2), st))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		mid, _ := a.Get(ctx, ids[2])
		tests := []struct {
			name string
			f    ledger.Filter
			want []string
		}{
			{"all newest first", ledger.Filter{}, []string{ids[3], ids[2], ids[1], ids[0]}},
			{"status", ledger.Filter{Status: protocol.LedgerSuspected}, []string{ids[2], ids[0]}},
			{"session", ledger.Filter{Session: "s1"}, []string{ids[3], ids[1]}},
			{"since", ledger.Filter{Since: mid.Updated}, []string{ids[3], ids[2]}},
			{"limit", ledger.Filter{Limit: 1}, []string{ids[3]}},
			{"limit 3", ledger.Filter{Limit: 3}, []string{ids[3], ids[2], ids[1]}},
			{"combined", ledger.Filter{Status: protocol.LedgerSuspected, Session: "s0", Since: mid.Updated}, []string{ids[2]}},
			{"nothing", ledger.Filter{Session: "nobody"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, l := range []ledger.Store{a, b} {
					got, err := l.List(ctx, tt.f)
					if err != nil {
						t.Fatal(err)
					}
					if got == nil {
						t.Fatal("List returned nil, want an empty list")
					}
					var gotIDs []string
					for _, e := range got {
						gotIDs = append(gotIDs, e.ID)
					}
					if fmt.Sprint(gotIDs) != fmt.Sprint(tt.want) {
						t.Fatalf("got %v want %v", gotIDs, tt.want)
					}
				}
			})
		}
		// More entries than twice the limit: still the newest, in order.
		for i := range 7 {
			e := ledgertest.Create(t, ctx, b, fmt.Sprint("many", i), protocol.LedgerResolved)
			ids = append(ids, e.ID)
		}
		got, err := a.List(ctx, ledger.Filter{Limit: 2})
		if err != nil || len(got) != 2 || got[0].ID != ids[len(ids)-1] || got[1].ID != ids[len(ids)-2] {
			t.Fatalf("limit 2 of 11: %v %v", got, err)
		}
	})
}

// Counts per status and the duplicate counters: a confirmed entry counts
// as suspected too, and an entry keeps counting after it moved on.
func TestContractCountsAndTotals(t *testing.T) {
	forEachStore(t, func(t *testing.T, open opener) {
		ctx := ctxT(t)
		a, b := open(t, 0), open(t, 2)
		s := ledgertest.Create(t, ctx, a, "s", protocol.LedgerSuspected)
		ledgertest.Create(t, ctx, a, "c", protocol.LedgerConfirmed)
		ledgertest.Create(t, ctx, b, "r", protocol.LedgerResolved)
		if _, err := b.Update(ctx, s.ID, func(x *protocol.LedgerEntry) error { x.Status = protocol.LedgerCleared; return nil }); err != nil {
			t.Fatal(err)
		}
		counts, err := b.Counts(ctx)
		want := map[protocol.LedgerStatus]int{protocol.LedgerCleared: 1, protocol.LedgerConfirmed: 1, protocol.LedgerResolved: 1}
		if err != nil || len(counts) != len(protocol.LedgerStatuses) {
			t.Fatalf("counts %v %v", counts, err)
		}
		for _, st := range protocol.LedgerStatuses {
			if counts[st] != want[st] {
				t.Fatalf("counts %v, want %v", counts, want)
			}
		}
		tot, err := a.Totals(ctx)
		if err != nil || tot != (ledger.Totals{Suspected: 2, Confirmed: 1}) {
			t.Fatalf("totals %+v %v", tot, err)
		}
	})
}

// Prune deletes settled entries older than the cutoff and keeps suspected
// and confirmed ones; two clients pruning at once count each entry once;
// the counters survive closing every client and opening a new one.
func TestContractPrune(t *testing.T) {
	forEachStore(t, func(t *testing.T, open opener) {
		ctx := ctxT(t)
		a, b := open(t, 0), open(t, 1)
		var keep []string
		for _, st := range []protocol.LedgerStatus{protocol.LedgerSuspected, protocol.LedgerConfirmed} {
			e := ledgertest.Create(t, ctx, a, "keep", st)
			keep = append(keep, e.ID)
		}
		const settled = 12
		for i := range settled {
			st := ledger.Prunable[i%len(ledger.Prunable)]
			if i == 0 {
				st = protocol.LedgerSuspected // suspected first, acknowledged below: counts as suspected
			}
			e := ledgertest.Create(t, ctx, b, fmt.Sprint("old", i), st)
			if i == 0 {
				if _, err := ledger.Acknowledge(ctx, a, e.ID, "seen"); err != nil {
					t.Fatal(err)
				}
			}
		}
		before, err := a.Totals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := a.Prune(ctx, time.Now().Add(-time.Hour)); n != 0 || err != nil {
			t.Fatalf("prune before the cutoff: %d %v", n, err)
		}
		cutoff := time.Now().Add(time.Second)
		var wg sync.WaitGroup
		var n [2]int
		for i, l := range []ledger.Store{a, b} {
			wg.Go(func() {
				var err error
				if n[i], err = l.Prune(ctx, cutoff); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n[0]+n[1] != settled {
			t.Fatalf("pruned %d + %d, want %d", n[0], n[1], settled)
		}
		list, _ := b.List(ctx, ledger.Filter{})
		var ids []string
		for _, e := range list {
			ids = append(ids, e.ID)
		}
		slices.Sort(ids)
		slices.Sort(keep)
		if !slices.Equal(ids, keep) {
			t.Fatalf("left %v, want %v", ids, keep)
		}
		for _, l := range []ledger.Store{a, b} {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.Get(ctx, keep[0]); err == nil {
			t.Fatal("get after close worked")
		}
		c := open(t, 2) // a restart: a new client, nothing in memory
		if p, err := c.Pruned(ctx); p != settled || err != nil {
			t.Fatalf("pruned after restart %d %v", p, err)
		}
		if after, err := c.Totals(ctx); after != before || err != nil || after != (ledger.Totals{Suspected: 3, Confirmed: 1}) {
			t.Fatalf("totals after prune and restart %+v (before %+v) %v", after, before, err)
		}
		if counts, _ := c.Counts(ctx); counts[protocol.LedgerSuspected] != 1 || counts[protocol.LedgerConfirmed] != 1 || counts[protocol.LedgerAcknowledged] != 0 {
			t.Fatalf("counts after prune %v", counts)
		}
	})
}

// Two nodes reconcile at start at once: each suspected entry of a previous
// run is settled once, and entries of this run are left alone.
func TestContractReconcileFromTwoNodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, open opener) {
		ctx := ctxT(t)
		a, b := open(t, 0), open(t, 2)
		const old = 6
		for i := range old {
			ledgertest.Create(t, ctx, a, fmt.Sprint("old", i), protocol.LedgerSuspected)
		}
		start := time.Now()
		mine := ledgertest.Create(t, ctx, b, "mine", protocol.LedgerSuspected)
		var wg sync.WaitGroup
		var res [2]ledger.ReconcileResult
		for i, l := range []ledger.Store{a, b} {
			wg.Go(func() {
				var err error
				if res[i], err = ledger.Reconcile(ctx, l, start, time.Nanosecond, nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if res[0].Expired+res[1].Expired != old {
			t.Fatalf("expired %d + %d, want %d", res[0].Expired, res[1].Expired, old)
		}
		list, _ := b.List(ctx, ledger.Filter{Status: protocol.LedgerExpiredUnknown})
		for _, e := range list {
			if e.Version != 2 || e.Note != ledger.NoteExpiredAfterRestart || e.Attempts[0].Outcome != protocol.LedgerOutcomeExpired {
				t.Fatalf("settled twice or wrongly: %+v", e)
			}
		}
		if len(list) != old {
			t.Fatalf("%d expired entries, want %d", len(list), old)
		}
		if e, _ := a.Get(ctx, mine.ID); e.Status != protocol.LedgerSuspected {
			t.Fatalf("this run's entry settled: %+v", e)
		}
	})
}

// The REST API over any store: an entry written through one server is
// listed and acknowledged through the handler of another.
func TestContractREST(t *testing.T) {
	forEachStore(t, func(t *testing.T, open opener) {
		a, c := open(t, 0), open(t, 2)
		e := mustCreate(t, a, sample("rest", protocol.LedgerConfirmed))
		srv := httptest.NewServer(ledger.Handler(c, zerolog.Nop()))
		defer srv.Close()
		resp, err := http.Get(srv.URL + ledger.PathList + "?session=rest")
		if err != nil {
			t.Fatal(err)
		}
		var list protocol.LedgerList
		decodeJSON(t, resp, &list)
		if len(list.Entries) != 1 || list.Entries[0].ID != e.ID || list.Totals == nil || list.Totals.Confirmed != 1 {
			t.Fatalf("list %+v", list)
		}
		resp, err = http.Post(srv.URL+ledger.PathOne+e.ID+"/acknowledge", "application/json", strings.NewReader(`{"note":"ok"}`))
		if err != nil {
			t.Fatal(err)
		}
		var acked protocol.LedgerEntry
		decodeJSON(t, resp, &acked)
		if acked.Status != protocol.LedgerAcknowledged || acked.Note != "ok" {
			t.Fatalf("ack %+v", acked)
		}
		resp, err = http.Get(srv.URL + ledger.PathOne + "Lnope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown id: %d", resp.StatusCode)
		}
	})
}
