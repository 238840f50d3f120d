package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/loadtest"
)

// defaultLoadRate is load's offered rate when neither --rate nor --closed is
// given: light enough for any machine, enough to see timeouts and duplicates.
const defaultLoadRate = 50

// loadFlags are the flags of cifbridge load.
type loadFlags struct {
	urls        urlsFlag
	allowRemote bool
	token       string
	sessions    int
	rate        float64
	closed      bool
	inflight    int
	maxInflight int
	duration    time.Duration
	warmup      time.Duration
	maxDuration time.Duration
	drain       time.Duration
	lateWait    time.Duration
	mix         string
	faults      string
	seed        uint64
	seedRecords int
	jsonOut     string
	htmlOut     string
}

func (f *loadFlags) register(fs *flag.FlagSet) {
	f.urls = urlsFlag{urls: []string{"ws://127.0.0.1:8787/v1/widget"}}
	fs.Var(&f.urls, "url", "widget WebSocket `URL` of the bridge; its admin API (faults, stats) is reached on the same host.\nSeveral bridges (the nodes of a cluster): separate URLs with commas and/or repeat --url;\nsessions are spread over them round-robin, and faults and the ground truth go to the one that serves the emulator;\nCIFBRIDGE_LOAD_URL takes the comma-separated form")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow a --url host that is not loopback")
	fs.StringVar(&f.token, "token", "", "bearer `token` for the WebSocket and admin calls (prefer the environment variable)")
	fs.IntVar(&f.sessions, "sessions", 1, "concurrent widget sessions, each its own WebSocket")
	fs.Float64Var(&f.rate, "rate", defaultLoadRate, "open loop: offered `calls/s` over all sessions; latency counts from the scheduled send time (not with --closed)")
	fs.BoolVar(&f.closed, "closed", false, "closed loop: every session keeps --inflight calls outstanding (instead of --rate)")
	fs.IntVar(&f.inflight, "inflight", 1, "closed loop: calls outstanding per session")
	fs.IntVar(&f.maxInflight, "max-inflight", 64, "open loop: most calls outstanding per session; a send beyond it is dropped and counted")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured phase")
	fs.DurationVar(&f.warmup, "warmup", 0, "load before the measured phase, excluded from the statistics")
	fs.DurationVar(&f.maxDuration, "max-duration", 0, "hard cap on the whole run (default warmup + duration + drain + late-wait + 30s)")
	fs.DurationVar(&f.drain, "drain", loadtest.DefaultDrain, "how long to wait, at most, for outstanding answers after the last send (long enough for an enreach.xrm call retried with the defaults at CIF 1.0's 10 s timeout)")
	fs.DurationVar(&f.lateWait, "late-wait", 15*time.Second, "how long to wait for the late answers (bridge.late) of timed-out calls")
	fs.StringVar(&f.mix, "mix", loadtest.DefaultMix().String(), "method `mix` as method=weight,…; cif.* names may drop the prefix (createrecord=5), enreach.xrm.* may be written xrm.createRecord; xrm.execute sends a CRUD Create")
	fs.StringVar(&f.faults, "faults", "", "emulator fault profile JSON `file`, PUT to /api/v1/emulator/faults before the run")
	fs.Uint64Var(&f.seed, "seed", 1, "random `seed` for method picks and payloads")
	fs.IntVar(&f.seedRecords, "seed-records", 20, "contacts created before the run for retrieves and updates to use (-1: none)")
	fs.StringVar(&f.jsonOut, "json", "", "write the report as JSON to `file`")
	fs.StringVar(&f.htmlOut, "html", "", "write a self-contained HTML report with latency plots to `file`")
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f loadFlags
	fs := newFlagSet("load", "Drive a bridge with concurrent widget sessions, open loop (--rate) or closed loop (--closed),\nand report throughput, latency percentiles (HdrHistogram), errors by code, timeouts, late answers,\nretries and duplicates checked against the emulator's ground truth.", stdout)
	f.register(fs)
	set, err := parseFlags(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.closed && !set["rate"] {
		f.rate = 0 // the default rate is for the open loop only
	}
	cfg, err := f.config(stderr)
	if err != nil {
		return usageError{err}
	}
	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, loadtest.ErrUsage) {
			return usageError{err}
		}
		return err
	}
	rep.WriteText(stdout)
	if f.jsonOut != "" {
		if err := writeFileWith(f.jsonOut, rep.WriteJSON); err != nil {
			return err
		}
	}
	if f.htmlOut != "" {
		if err := writeFileWith(f.htmlOut, rep.WriteHTML); err != nil {
			return err
		}
	}
	return nil
}

func (f *loadFlags) config(progress io.Writer) (loadtest.Config, error) {
	cfg := loadtest.Config{
		URLs: f.urls.urls, AllowRemote: f.allowRemote, Token: f.token,
		Sessions: f.sessions, Rate: f.rate, Closed: f.closed, InFlight: f.inflight, MaxInFlight: f.maxInflight,
		Duration: f.duration, Warmup: f.warmup, MaxDuration: f.maxDuration, Drain: f.drain, LateWait: f.lateWait,
		Seed: f.seed, SeedRecords: f.seedRecords, Progress: progress, ProgressTTY: isTerminal(progress),
	}
	if f.sessions < 1 {
		return cfg, fmt.Errorf("--sessions must be at least 1, e.g. --sessions 4; got %d", f.sessions)
	}
	if !f.closed && !(f.rate > 0) {
		return cfg, fmt.Errorf("--rate must be more than 0 calls/s, e.g. --rate %d (or use --closed); got %v", defaultLoadRate, f.rate)
	}
	// loadtest.Config takes a zero for "the default": a zero given here
	// would run something else than asked, silently.
	for _, n := range []struct {
		name, example string
		v             int
	}{{"inflight", "4", f.inflight}, {"max-inflight", "64", f.maxInflight}} {
		if n.v < 1 {
			return cfg, fmt.Errorf("--%s must be at least 1, e.g. --%s %s; got %d", n.name, n.name, n.example, n.v)
		}
	}
	for _, d := range []struct {
		name, example string
		v             time.Duration
	}{{"duration", "10s", f.duration}, {"drain", "45s", f.drain}, {"late-wait", "15s", f.lateWait}} {
		if d.v <= 0 {
			return cfg, fmt.Errorf("--%s must be positive, e.g. --%s %s; got %v", d.name, d.name, d.example, d.v)
		}
	}
	// A report that cannot be written would be lost after the whole run.
	for _, out := range []struct{ name, path string }{{"json", f.jsonOut}, {"html", f.htmlOut}} {
		if out.path == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(out.path)); err != nil || !fi.IsDir() {
			return cfg, fmt.Errorf("--%s %s: the directory %s does not exist; create it or write the report elsewhere", out.name, out.path, filepath.Dir(out.path))
		}
	}
	mix, err := loadtest.ParseMix(f.mix)
	if err != nil {
		return cfg, err
	}
	cfg.Mix = mix
	if f.faults != "" {
		b, err := os.ReadFile(f.faults)
		if err != nil {
			return cfg, fmt.Errorf("--faults: %w", err)
		}
		// Checked here, as serve and replay check theirs: a file the
		// emulator would refuse is bad input that names the file, not a
		// failed run.
		if _, err := emulator.ParseFaultProfile(b); err != nil {
			return cfg, fmt.Errorf("--faults %s: %w", f.faults, err)
		}
		cfg.Faults = b
	}
	return cfg, nil
}

// urlsFlag is load's --url: comma-separated and/or repeated. The first
// --url given replaces the default; the environment's value is a
// comma-separated list.
type urlsFlag struct {
	urls []string
	set  bool
}

func (u *urlsFlag) String() string { return strings.Join(u.urls, ",") }

func (u *urlsFlag) Set(v string) error {
	if !u.set {
		u.urls, u.set = nil, true
	}
	for part := range strings.SplitSeq(v, ",") {
		u.urls = append(u.urls, strings.TrimSpace(part)) // an empty one is refused with the list's other checks
	}
	return nil
}

func writeFileWith(path string, write func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	if err := write(fh); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return fh.Close()
}
