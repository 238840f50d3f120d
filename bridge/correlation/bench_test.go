package correlation_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
)

// fillInFlight registers n attempts whose exec blocks until release is
// closed, and waits until the table holds them all.
func fillInFlight(b *testing.B, tab *correlation.Table, n int, timeout time.Duration) (release chan struct{}, wg *sync.WaitGroup) {
	b.Helper()
	release = make(chan struct{})
	wg = &sync.WaitGroup{}
	for range n {
		wg.Go(func() {
			_, _, _ = tab.Do(context.Background(), correlation.Attempt{Session: "load", Method: "cif.createrecord", Timeout: timeout},
				func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
					select {
					case <-release:
					case <-ctx.Done():
					}
					return json.RawMessage(`{}`), nil
				})
		})
	}
	for tab.Stats().InFlight < n {
		time.Sleep(time.Millisecond)
	}
	return release, wg
}

// parallel runs op from GOMAXPROCS goroutines (b.RunParallel) until the
// benchmark has its iterations or op fails.
func parallel(b *testing.B, op func() error) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDoUnderLoad is one answered attempt while 10 000 others are in
// flight. Its attempt has the earliest deadline of all (10 s among one-hour
// ones): the deadline heap's worst case.
func BenchmarkDoUnderLoad(b *testing.B) { benchDoUnderLoad(b, time.Hour, 10*time.Second) }

// BenchmarkDoUnderLoadSameTimeout is BenchmarkDoUnderLoad with the same
// CIF timeout for all, the others started earlier: the common case, where
// each new deadline is the latest.
func BenchmarkDoUnderLoadSameTimeout(b *testing.B) { benchDoUnderLoad(b, time.Minute, time.Minute) }

func benchDoUnderLoad(b *testing.B, others, timeout time.Duration) {
	tab := correlation.New(correlation.Config{LateWindow: time.Minute})
	release, wg := fillInFlight(b, tab, 10_000, others)
	res := json.RawMessage(`{"entityType":"contact","id":"9b2f6a1e-4c1d-4f7e-9a7b-2d3c4e5f6a7b"}`)
	exec := func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) { return res, nil }
	a := correlation.Attempt{Session: "s", Method: "cif.createrecord", Timeout: timeout}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := tab.Do(context.Background(), a, exec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(release)
	wg.Wait()
	_ = tab.Close(context.Background())
}

// BenchmarkDoUnderLoadParallel is BenchmarkDoUnderLoad from GOMAXPROCS
// goroutines (one table mutex).
func BenchmarkDoUnderLoadParallel(b *testing.B) {
	tab := correlation.New(correlation.Config{LateWindow: time.Minute})
	release, wg := fillInFlight(b, tab, 10_000, time.Hour)
	exec := func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	}
	a := correlation.Attempt{Session: "s", Method: "cif.createrecord", Timeout: 10 * time.Second}
	b.ReportAllocs()
	b.ResetTimer()
	parallel(b, func() error {
		_, _, err := tab.Do(context.Background(), a, exec)
		return err
	})
	b.StopTimer()
	close(release)
	wg.Wait()
	_ = tab.Close(context.Background())
}

// BenchmarkTimeoutFiring keeps 10 000 attempts that never answer in flight,
// each with a 1 s CIF timeout, and measures how late each -32000 comes back
// after its own deadline. "spread": the attempts start over 500 ms, as
// traffic arrives (all 10 000 are in flight at the peak); "burst": all start
// at once, so 10 000 deadlines fall in the same millisecond. Metrics:
// late-p50-ms, late-p99-ms, late-max-ms.
func BenchmarkTimeoutFiring(b *testing.B) {
	for _, bc := range []struct {
		name   string
		spread time.Duration
	}{{"spread", 500 * time.Millisecond}, {"burst", 0}} {
		b.Run(bc.name, func(b *testing.B) { benchTimeoutFiring(b, bc.spread) })
	}
}

func benchTimeoutFiring(b *testing.B, spread time.Duration) {
	const n, timeout = 10_000, time.Second
	b.ReportAllocs()
	var lates []time.Duration
	for b.Loop() {
		tab := correlation.New(correlation.Config{LateWindow: 2 * time.Second})
		var mu sync.Mutex
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := range n {
			if spread > 0 {
				if d := time.Until(t0.Add(spread * time.Duration(i) / n)); d > 0 {
					time.Sleep(d)
				}
			}
			wg.Go(func() {
				start := time.Now()
				_, _, err := tab.Do(context.Background(), correlation.Attempt{Session: "s", Method: "cif.createrecord", Timeout: timeout},
					func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
						<-ctx.Done() // dropped: only the late-record window ends it
						return nil, ctx.Err()
					})
				late := time.Since(start) - timeout
				if err == nil {
					b.Error("an attempt that never answers succeeded")
				}
				mu.Lock()
				lates = append(lates, late)
				mu.Unlock()
			})
		}
		wg.Wait()
		_ = tab.Close(context.Background())
	}
	slices.Sort(lates)
	q := func(p float64) float64 { return float64(lates[int(p*float64(len(lates)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "late-p50-ms")
	b.ReportMetric(q(0.99), "late-p99-ms")
	b.ReportMetric(q(1), "late-max-ms")
}

// BenchmarkDoBeginAtOnce is one attempt whose begin answers at once (the
// emulator's createrecord path), on one goroutine ("serial") and from
// GOMAXPROCS goroutines ("parallel": the table's shared state, its mutex
// and counters, moving between the cores).
func BenchmarkDoBeginAtOnce(b *testing.B) {
	res := json.RawMessage(`{"entityType":"contact","id":"9b2f6a1e-4c1d-4f7e-9a7b-2d3c4e5f6a7b"}`)
	begin := func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
		return res, nil, nil
	}
	a := correlation.Attempt{Session: "s", Method: "cif.createrecord", Timeout: 10 * time.Second}
	b.Run("serial", func(b *testing.B) {
		tab := correlation.New(correlation.Config{})
		defer func() { _ = tab.Close(context.Background()) }()
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := tab.DoBegin(context.Background(), a, begin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		tab := correlation.New(correlation.Config{})
		defer func() { _ = tab.Close(context.Background()) }()
		b.ReportAllocs()
		parallel(b, func() error {
			_, _, err := tab.DoBegin(context.Background(), a, begin)
			return err
		})
	})
}
