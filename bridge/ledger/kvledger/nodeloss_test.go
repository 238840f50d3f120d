package kvledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// The server of three that leads the bucket's stream, and that the
// entries were written through, stops: every entry is still read, listed,
// counted and updated through the other two, and a write made at once
// waits for JetStream's new leader by itself.
func TestEntriesSurviveAServersLoss(t *testing.T) {
	nodes := startTrio(t)
	ctx := ctxT(t)
	nc, err := nodes[0].Connect("leader")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	// Open the bucket, then find its stream's leader and write through it.
	openKV(t, nodes[0], "ledger_loss").Close()
	st, err := js.Stream(ctx, "KV_ledger_loss")
	nc.Close()
	if err != nil {
		t.Fatal(err)
	}
	dead := slices.IndexFunc(nodes, func(e *cluster.Embedded) bool { return e.S.Name() == st.CachedInfo().Cluster.Leader })
	if dead < 0 {
		t.Fatalf("no server leads the stream: %+v", st.CachedInfo().Cluster)
	}
	other := (dead + 1) % 3
	defer func() {
		for i, n := range nodes {
			if i != dead {
				n.Shutdown()
			}
		}
	}()
	a := openKV(t, nodes[dead], "ledger_loss")
	if a.Replicas() != 3 {
		t.Fatalf("replicas %d", a.Replicas())
	}
	var ids []string
	for i := range 20 {
		e, err := a.Create(ctx, sample(fmt.Sprint("s", i), protocol.LedgerSuspected))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	b := openKV(t, nodes[other], "ledger_loss")
	a.Close()
	nodes[dead].Shutdown()
	lost := time.Now()

	// The first write and read through b ride out the election of a new
	// stream leader by themselves, within the caller's deadline.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fresh, err := b.Create(wctx, sample("after", protocol.LedgerSuspected))
	if err != nil {
		t.Fatalf("first write %v after the loss: %v", time.Since(lost), err)
	}
	t.Logf("first write done %v after the server's loss", time.Since(lost).Round(time.Millisecond))
	for _, id := range ids {
		if e, err := b.Get(ctx, id); err != nil || e.Status != protocol.LedgerSuspected {
			t.Fatalf("entry %s after the loss: %+v %v", id, e, err)
		}
	}
	if _, err := ledger.Acknowledge(ctx, b, ids[0], "seen after the loss"); err != nil {
		t.Fatal(err)
	}
	list, err := b.List(ctx, ledger.Filter{Limit: ledger.MaxLimit})
	if err != nil || len(list) != len(ids)+1 || list[0].ID != ids[0] || list[1].ID != fresh.ID {
		t.Fatalf("list after the loss: %d entries %v", len(list), err)
	}
	if counts, err := b.Counts(ctx); err != nil || counts[protocol.LedgerSuspected] != len(ids) || counts[protocol.LedgerAcknowledged] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
	if _, err := b.Create(ctx, protocol.LedgerEntry{ID: ids[1], Status: protocol.LedgerSuspected}); !errors.Is(err, ledger.ErrExists) {
		t.Fatalf("create over an entry after the loss: %v", err)
	}
}
