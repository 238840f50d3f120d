package bridge_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge"
)

// The memory figures of issue 13 are benchmarks, not timed tests: run them
// with
//
//	go test -run '^$' -bench 'FloodMemory|ConnectCycles' -benchtime 1x ./bridge/
//
// and read the reported MB metrics (client and bridge share the process,
// so the figures include the client's own buffers).

// heapSampler records the peak of the live heap while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	return h
}

func (h *heapSampler) Stop() float64 {
	close(h.stop)
	h.done.Wait()
	return float64(h.peak.Load()) / (1 << 20)
}

func heapAfterGC() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// BenchmarkFloodMemory is issue 13's flood: 3 sockets each send 300 calls
// with a 1 MB id and never read. Before the byte budget the bridge held
// 1.28 GiB; the target is under ~200 MB. Reports the peak heap in use.
func BenchmarkFloodMemory(b *testing.B) {
	for range b.N {
		url := benchBridge(b)
		base := heapAfterGC()
		h := sampleHeap()
		msg := []byte(`{"jsonrpc":"2.0","id":"` + strings.Repeat("i", 1_000_000) + `","method":"cif.getmode"}`)
		var wg sync.WaitGroup
		for range 3 {
			c := benchDial(b, url)
			wg.Go(func() {
				for range 300 {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := c.ws.Write(ctx, websocket.MessageText, msg)
					cancel()
					if err != nil {
						return // closed by the bridge (1008, not reading)
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(h.Stop()-base, "peak-heap-MB")
	}
}

// BenchmarkConnectCycles is issue 13's connection churn: 30 000
// connect/hello/close cycles, then a GC. Before the fix the heap stayed
// +725 MiB (closed connections still referenced); the target is back to
// baseline within ±20 MB. Reports the heap after GC minus the baseline.
func BenchmarkConnectCycles(b *testing.B) {
	const cycles = 30_000
	for range b.N {
		srv, url := benchServer(b, bridge.Config{MaxConnsPerIP: -1})
		// One cycle first, so the baseline includes what the first
		// connection sets up once (pools, metric children).
		cycle(b, url)
		base := heapAfterGC()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for next.Add(1) <= cycles {
					cycle(b, url)
				}
			})
		}
		wg.Wait()
		for srv.Connections() > 0 { // the bridge's side of the last closes
			time.Sleep(10 * time.Millisecond)
		}
		b.ReportMetric(heapAfterGC()-base, "heap-delta-MB")
		b.ReportMetric(float64(srv.SessionCount()), "sessions-kept")
	}
}

func cycle(b *testing.B, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"bridge.hello","params":{"client":"bench"}}`)); err != nil {
		b.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err != nil {
		b.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "")
}

// BenchmarkIdleSessions opens idleSessions widget sessions, one call each,
// and reports what each idle session adds: goroutines, goroutine stacks
// and Go heap (after GC). Client and bridge share the process: the heap
// figure includes the client's side of each socket (its coder/websocket
// conn and 4 KiB buffers); the goroutines and stacks are the bridge's, the
// client's conns have none. The bridge's RSS alone per idle session is the
// suite's figure (go run ./bench --idle 10000).
func BenchmarkIdleSessions(b *testing.B) {
	const idleSessions = 1000
	if !raiseFileLimit(2*idleSessions + 256) {
		b.Skipf("the file limit does not hold %d sockets a side", idleSessions)
	}
	for range b.N {
		_, url := benchServer(b, bridge.Config{MaxConnsPerIP: -1})
		// One session first: what the first one sets up once is not counted.
		if err := benchDial(b, url).roundTrip("cif.getmode", "{}"); err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		heapAfterGC()
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		for range idleSessions {
			if err := benchDial(b, url).roundTrip("cif.getmode", "{}"); err != nil {
				b.Fatal(err)
			}
		}
		// The last answers' writers are on their way out: wait for them,
		// at most 10 s, by the goroutine count.
		for range 1000 {
			if runtime.NumGoroutine()-g0 <= idleSessions {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		heapAfterGC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/idleSessions, "goroutines/session")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/1024/idleSessions, "stack-KiB/session")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/1024/idleSessions, "heap-KiB/session")
	}
}
