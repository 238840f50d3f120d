package ledger_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/ledgertest"
	"github.com/cifbridge/cifbridge/protocol"
)

// keys is a RecordChecker that knows a fixed set of primary keys.
type keys map[string]bool

func (k keys) RecordExists(_ context.Context, entity, id string) (bool, error) {
	return k[entity+"/"+id], nil
}

// Suspected entries a previous run left: past their late window they become
// expired-unknown with the reason; a record found under the key resolves
// one at once; the rest wait, and entries of this run are left alone.
func TestReconcileAfterRestart(t *testing.T) {
	ctx := context.Background()
	l := ledgertest.Open(t, filepath.Join(t.TempDir(), "ledger.db"))
	old, err := l.Create(ctx, sample("sOld", protocol.LedgerSuspected))
	if err != nil {
		t.Fatal(err)
	}
	idem := sample("sFound", protocol.LedgerSuspected) // an idempotent create: its one attempt timed out
	idem.Attempts, idem.RecordIDs = idem.Attempts[:1], nil
	found, _ := l.Create(ctx, idem)
	confirmed, _ := l.Create(ctx, sample("sConf", protocol.LedgerConfirmed))
	start := time.Now()
	mine, _ := l.Create(ctx, sample("sMine", protocol.LedgerSuspected))
	check := keys{"contact/" + found.Key: true}

	// Within the window: only the one found by its key moves.
	res, err := ledger.Reconcile(ctx, l, start, time.Hour, check)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resolved != 1 || res.Expired != 0 || res.Waiting != 1 || res.Next.Sub(old.Created) != time.Hour {
		t.Fatalf("within the window: %+v", res)
	}
	want := map[string]protocol.LedgerStatus{old.ID: protocol.LedgerSuspected, found.ID: protocol.LedgerResolved,
		confirmed.ID: protocol.LedgerConfirmed, mine.ID: protocol.LedgerSuspected}
	for id, st := range want {
		if e, _ := l.Get(ctx, id); e.Status != st {
			t.Fatalf("%s: %s, want %s", id, e.Status, st)
		}
	}
	if e, _ := l.Get(ctx, found.ID); e.Note != ledger.NoteResolvedByKey || len(e.RecordIDs) != 1 || e.RecordIDs[0] != found.Key {
		t.Fatalf("resolved entry: %+v", e)
	}

	// Past the window: the old one expires, with the reason and its
	// timed-out attempt marked expired; this run's entry stays.
	res, err = ledger.Reconcile(ctx, l, start, time.Nanosecond, nil)
	if err != nil || res.Expired != 1 || res.Waiting != 0 {
		t.Fatalf("past the window: %+v %v", res, err)
	}
	e, _ := l.Get(ctx, old.ID)
	if e.Status != protocol.LedgerExpiredUnknown || e.Note != ledger.NoteExpiredAfterRestart || e.Attempts[0].Outcome != protocol.LedgerOutcomeExpired {
		t.Fatalf("expired entry: %+v", e)
	}
	if e, _ := l.Get(ctx, mine.ID); e.Status != protocol.LedgerSuspected {
		t.Fatalf("this run's entry: %s", e.Status)
	}
	if c, _ := l.Counts(ctx); c[protocol.LedgerSuspected] != 1 {
		t.Fatalf("counts %v", c)
	}
}
