package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/replay"
)

// embeddedDaemon is the daemon replay --embedded runs for one capture.
type embeddedDaemon struct {
	d   *daemon
	url string // ws://127.0.0.1:PORT/v1/widget
	tmp string // a temporary --data-dir, removed by close
}

// startEmbedded builds, for one capture, the daemon serve builds (the same
// flags and parts: newServeCommand, newDaemon) with the capture's profile
// and CIF timeout, on a loopback port: the emulator backend with the fault
// profile file faults (may be "") in widget mode, host peers in full mode.
// The duplicate ledger lives in dataDir, or in a fresh temporary directory
// when dataDir is "". The environment's CIFBRIDGE_* variables are not read:
// they configure serve, not replay.
func startEmbedded(ctx context.Context, h protocol.CaptureHeader, mode, faults, dataDir string) (*embeddedDaemon, error) {
	e := &embeddedDaemon{}
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "cifbridge-replay-")
		if err != nil {
			return nil, fmt.Errorf("embedded bridge: %w", err)
		}
		dataDir, e.tmp = tmp, tmp
	}
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", dataDir, "--drain-timeout", "1s", "--log-level", "error"}
	if h.Profile != "" {
		args = append(args, "--profile", h.Profile)
	}
	if h.TimeoutMs > 0 {
		args = append(args, "--cif-timeout", (time.Duration(h.TimeoutMs) * time.Millisecond).String())
	}
	if mode == replay.ModeFull {
		args = append(args, "--backend", "host")
	} else if faults != "" {
		args = append(args, "--emulator-faults", faults)
	}
	fs, f, plugins := newServeCommand(io.Discard)
	if err := fs.Parse(args); err != nil {
		e.close()
		return nil, fmt.Errorf("embedded bridge: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	log, err := newLogger(io.Discard, f.logLevel, "json")
	if err == nil {
		e.d, err = newDaemon(ctx, f, set, plugins, log, nil)
	}
	if err != nil {
		e.close()
		return nil, fmt.Errorf("embedded bridge: %w", err)
	}
	e.d.serve()
	e.url = "ws://" + e.d.ln.Addr().String() + protocol.PathWidget
	return e, nil
}

// close shuts the daemon down and removes a temporary data directory.
func (e *embeddedDaemon) close() {
	if e.d != nil {
		e.d.shutdown()
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}
