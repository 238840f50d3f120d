package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cifbridge/cifbridge/internal/gcfloor"
)

// defaultGCHeapFloor is --gc-heap-floor's default (docs/performance.md,
// "A floor under the collector's heap goal").
const defaultGCHeapFloor = 64 << 20

// The collector's floor: --gc-heap-floor keeps the heap goal at least that
// many bytes above the live heap (internal/gcfloor), so a small busy daemon
// collects a few times a minute instead of several times a second.
type gcFloorPlugin struct {
	noSteps
	bytes int64
	floor *gcfloor.Floor
}

func (p *gcFloorPlugin) flags(fs *flag.FlagSet) {
	fs.Int64Var(&p.bytes, "gc-heap-floor", defaultGCHeapFloor, "let the heap grow at least this many `bytes` above what is live before the garbage collector runs (GOGC is raised while the live heap is small, back to its value once live × GOGC/100 exceeds it): costs up to this much more RSS, buys fewer collections and a lower p99 under load; 0: off (GOGC alone decides; GOGC=off also turns it off)")
}

func (p *gcFloorPlugin) configure(env *serveEnv) error {
	if p.bytes < 0 {
		return usageError{fmt.Errorf("--gc-heap-floor must be 0 (off) or a size in bytes, e.g. %d (64 MiB), got %d", defaultGCHeapFloor, p.bytes)}
	}
	return nil
}

func (p *gcFloorPlugin) start(ctx context.Context, env *serveEnv) error {
	if err := env.Server.Registry().Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cifbridge_gc_percent",
		Help: "The garbage collector's GOGC in effect (raised by --gc-heap-floor while the live heap is small; -1: off).",
	}, func() float64 { return float64(gcfloor.Current()) })); err != nil {
		return err
	}
	base := gcfloor.Current()
	switch {
	case p.bytes == 0:
		env.Log.Info().Int("gogc", base).Msg("collector floor off (--gc-heap-floor 0): GOGC alone sets the heap goal")
		return nil
	case base < 0:
		env.Log.Info().Msg("collector floor off: GOGC=off")
		return nil
	case gcfloor.Running():
		env.Log.Info().Int("gogc", base).Msg("collector floor kept by another serve in this process: this one leaves GOGC alone")
		return nil
	}
	p.floor = gcfloor.Start(ctx, uint64(p.bytes))
	if p.floor == nil { // another serve's floor started in between
		return nil
	}
	s := p.floor.Status()
	env.Log.Info().Int64("floorBytes", p.bytes).Int("gogcBase", s.Base).Int("gogc", s.Percent).
		Uint64("liveBytes", s.Live).Uint64("scannedRootsBytes", s.Roots).
		Msgf("collector floor: heap goal kept ≥ %d MiB above the live heap; GOGC %d now (base %d), adjusted after every collection", p.bytes>>20, s.Percent, s.Base)
	return nil
}

func (p *gcFloorPlugin) stop(*serveEnv) { p.floor.Stop() }
