package cluster_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/bridge/correlation"
)

// BenchmarkCrossNodeHop measures what a hop between nodes costs a call:
// one backend attempt (a createrecord's envelope, ~200 B of params) goes
// through cluster.Backend to a backend served on node C of a three-node
// loopback cluster, alternately from a caller on C (same node) and from a
// caller on A (across a route), so both see the same machine state. It
// reports p50/p99 of each in µs and the p50 difference (the hop); the
// backend answers at once, so the figures are the path's own cost.
//
//	go test -run '^$' -bench CrossNodeHop -benchtime 5000x ./bridge/cluster/
func BenchmarkCrossNodeHop(b *testing.B) {
	nodes := startCluster(b, 3)
	onC := natsRouter(b, nodes[2], "C-server")
	be := backend.Func{N: "echo", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
		return json.RawMessage(`{"id":"00000000-0000-0000-0000-000000000001"}`), nil
	}}
	stop, err := cluster.ServeBackend(context.Background(), onC, cluster.BackendService, "C", be, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	waitInterest(b, nodes[0], cluster.BackendService, 1)
	same := &cluster.Backend{Router: natsRouter(b, nodes[2], "C-caller"), Node: "C"}
	cross := &cluster.Backend{Router: natsRouter(b, nodes[0], "A-caller"), Node: "A"}
	params := json.RawMessage(`{"entityName":"contact","value":{"firstname":"Ada","lastname":"Lovelace","emailaddress1":"ada@example.com","telephone1":"+44 20 7946 0000"}}`)
	hSame := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
	hCross := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	call := func(cb *cluster.Backend, h *hdrhistogram.Histogram) {
		now := time.Now()
		a := &correlation.Attempt{ID: "a1", Session: "s0123456789abcdef0123", Method: "cif.createrecord", Params: params,
			Timeout: 10 * time.Second, Started: now, Deadline: now.Add(10 * time.Second)}
		if _, err := cb.Execute(ctx, a); err != nil {
			b.Fatal(err)
		}
		_ = h.RecordValue(max(time.Since(now).Microseconds(), 1))
	}
	for range 200 { // warm up both paths
		call(same, hSame)
		call(cross, hCross)
	}
	hSame.Reset()
	hCross.Reset()
	b.ResetTimer()
	for range b.N {
		call(same, hSame)
		call(cross, hCross)
	}
	b.StopTimer()
	b.ReportMetric(float64(hSame.ValueAtQuantile(50)), "same-p50-µs")
	b.ReportMetric(float64(hSame.ValueAtQuantile(99)), "same-p99-µs")
	b.ReportMetric(float64(hCross.ValueAtQuantile(50)), "cross-p50-µs")
	b.ReportMetric(float64(hCross.ValueAtQuantile(99)), "cross-p99-µs")
	b.ReportMetric(float64(hCross.ValueAtQuantile(50)-hSame.ValueAtQuantile(50)), "hop-p50-µs")
}
