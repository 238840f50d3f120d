package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/internal/gcfloor"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestServeGCHeapFloor: serve raises GOGC for a floor larger than the live
// heap, logs it once, shows it as cifbridge_gc_percent, and puts GOGC back
// when it stops; --gc-heap-floor 0 leaves GOGC alone.
func TestServeGCHeapFloor(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	runtime.GC() // the floor waits for a first cycle's live heap
	wsURL, logs, stop := startServe(t, "--gc-heap-floor", fmt.Sprint(1<<30))
	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), protocol.PathWidget)
	raised := gcfloor.Current()
	if raised <= 100 {
		t.Fatalf("GOGC %d with a 1 GiB floor, want > 100", raised)
	}
	if n := strings.Count(logs.String(), "collector floor: heap goal kept"); n != 1 {
		t.Errorf("%d start lines about the floor, want 1:\n%s", n, logs)
	}
	_, metrics := getBody(t, base+"/metrics")
	if !strings.Contains(metrics, "cifbridge_gc_percent ") {
		t.Errorf("/metrics lacks cifbridge_gc_percent")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := gcfloor.Current(); got != 100 || gcfloor.Running() {
		t.Fatalf("after stop: GOGC %d (floor running %v), want 100", got, gcfloor.Running())
	}

	wsURL, logs, stop = startServe(t, "--gc-heap-floor", "0")
	base = "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), protocol.PathWidget)
	if got := gcfloor.Current(); got != 100 {
		t.Errorf("--gc-heap-floor 0: GOGC %d, want 100", got)
	}
	if !strings.Contains(logs.String(), "collector floor off (--gc-heap-floor 0)") {
		t.Errorf("no log line saying the floor is off:\n%s", logs)
	}
	if _, metrics := getBody(t, base+"/metrics"); !strings.Contains(metrics, "cifbridge_gc_percent 100") {
		t.Errorf("/metrics lacks cifbridge_gc_percent 100")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
