package kvledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// BenchmarkLedgerWrites measures duplicate-ledger writes per second, each
// durable before it returns, through ledger.Store in one run:
//
//	sqlite  the single-node ledger (WAL, synchronous=FULL)
//	kv-R1   JetStream KV on one embedded server (SyncAlways)
//	kv-R3   JetStream KV on three embedded servers clustered on loopback,
//	        three replicas (SyncAlways on each; a write waits for a quorum)
//
// create is a new entry (kv.Create), update a compare-and-set on one
// entry (read, kv.Update), create-parallel new entries from 8 goroutines
// per core (many sessions timing out at once). Compare the stores as
// ratios within one run.
//
//	go test -run '^$' -bench LedgerWrites -benchtime 2000x ./bridge/ledger/kvledger/
func BenchmarkLedgerWrites(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) ledger.Store
	}{
		{"sqlite", func(b *testing.B) ledger.Store {
			l, err := ledger.Open(filepath.Join(b.TempDir(), ledger.FileName))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close() })
			return l
		}},
		{"kv-R1", func(b *testing.B) ledger.Store { return benchKV(b, soloServer(b), 1) }},
		{"kv-R3", func(b *testing.B) ledger.Store { return benchKV(b, trioServers(b), 3) }},
	}
	for _, st := range stores {
		b.Run(st.name+"/create", func(b *testing.B) {
			l := st.open(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := l.Create(ctx, benchEntry(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
		b.Run(st.name+"/update", func(b *testing.B) {
			l := st.open(b)
			ctx := context.Background()
			e, err := l.Create(ctx, benchEntry(0))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error {
					x.Note = fmt.Sprint("update ", i)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
		b.Run(st.name+"/create-parallel", func(b *testing.B) {
			l := st.open(b)
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Create(ctx, benchEntry(int(n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// benchKV opens a store on a fresh bucket of servers with want replicas.
func benchKV(b *testing.B, servers []*cluster.Embedded, want int) ledger.Store {
	s := openKV(b, servers[0], fmt.Sprintf("ledger_bench_%d", buckets.Add(1)))
	if s.Replicas() != want {
		b.Fatalf("bucket has %d replicas, want %d", s.Replicas(), want)
	}
	return s
}

func benchEntry(i int) protocol.LedgerEntry {
	return protocol.LedgerEntry{Session: "s0123456789abcdef0123", Method: "enreach.xrm.createRecord",
		Entity: "contact", Key: fmt.Sprintf("%032x", i), Status: protocol.LedgerSuspected,
		Attempts: []protocol.LedgerAttempt{{AttemptID: "a1", Outcome: protocol.LedgerOutcomeTimeout}}, RecordIDs: []string{}}
}
