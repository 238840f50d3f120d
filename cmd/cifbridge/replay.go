package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/replay"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// errDiverged makes replay exit 1 after printing the report.
var errDiverged = errors.New("replay diverged from the capture")

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		url, mode, faults, jsonOut, token string
		ledgerDir                         string
		embedded                          bool
		speed                             float64
		tolerance, grace                  time.Duration
		ignore                            stringList
	)
	fs := newFlagSet("replay [flags] FILE…", "Replays capture files (cifbridge serve --capture-dir, or the browser recorder) against a bridge and compares every answer, event and notification with the captured one.\n"+
		"Captures that call enreach.xrm.* or mention duplicate-ledger entries are also compared on the ledger's outcome (status and record ids, read from the bridge's /api/v1/ledger for the replayed session); --embedded then wires the retry engine and a fresh ledger into the in-process bridge (kept with --ledger-dir).\n"+
		"Exit status: 0 all matched, 1 divergence (or the bridge could not be reached), 2 bad input (flags, files, values).", stdout)
	fs.StringVar(&url, "url", "", "widget endpoint of a running bridge, ws://HOST:PORT/v1/widget (events are raised through its admin API)")
	fs.BoolVar(&embedded, "embedded", false, "start a bridge in-process per capture with the capture's profile and CIF timeout (emulator backend; host backend with --mode full; plus the retry engine and a ledger when the capture needs them)")
	fs.StringVar(&mode, "mode", replay.ModeWidget, "`mode`: widget (play the widget side) or full (also play the host peer with the captured backend answers and latencies)")
	fs.Float64Var(&speed, "speed", 1, "scale the captured think time between requests: 2 = twice as fast, 0 = as fast as possible (answer latencies are never scaled)")
	fs.StringVar(&faults, "faults", "", "JSON emulator fault profile `file` for --embedded widget mode")
	fs.StringVar(&ledgerDir, "ledger-dir", "", "with --embedded, keep the duplicate ledger of captures that need one in this `directory` (one subdirectory per capture) instead of a temporary one")
	fs.DurationVar(&tolerance, "latency-tolerance", 250*time.Millisecond, "how far latency-like numbers (lateByMs, …Ms) may differ from the capture")
	fs.Var(&ignore, "ignore", "JSON `path` not compared, e.g. result.createdon or error.data.attemptId; a bare name matches at any depth (repeatable, or comma-separated)")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this `file`")
	fs.StringVar(&token, "token", "", "bearer `token` for the bridge (widget, host and admin API)")
	fs.DurationVar(&grace, "grace", 0, "how long a captured answer may be overdue (past its captured delay after the widget's previous request) before it counts as missing (default twice the capture's CIF timeout + 2s)")
	flagArgs, files := splitArgs(fs, args)
	if _, err := parseFlags(fs, flagArgs); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	switch {
	case len(files) == 0:
		return usageError{errors.New("name at least one capture FILE, e.g. cifbridge replay --embedded session.jsonl")}
	case embedded == (url != ""):
		return usageError{errors.New("give exactly one of --url ws://HOST:PORT/v1/widget or --embedded")}
	case mode != replay.ModeWidget && mode != replay.ModeFull:
		return usageError{fmt.Errorf("unknown --mode %q: use --mode widget or --mode full", mode)}
	case speed < 0:
		return usageError{fmt.Errorf("--speed must be 0 or more (e.g. --speed 2 for twice as fast, 0 for no pauses), got %v", speed)}
	case tolerance < 0:
		return usageError{fmt.Errorf("--latency-tolerance must be 0 or more, e.g. --latency-tolerance 250ms; got %v", tolerance)}
	case grace < 0:
		return usageError{fmt.Errorf("--grace must be 0 or more, e.g. --grace 30s; got %v", grace)}
	case faults != "" && (!embedded || mode != replay.ModeWidget):
		return usageError{errors.New("--faults needs --embedded in widget mode")}
	case ledgerDir != "" && !embedded:
		return usageError{errors.New("--ledger-dir needs --embedded (with --url the bridge's own ledger is read)")}
	}
	// --ignore is repeatable and comma-separated (CIFBRIDGE_REPLAY_IGNORE
	// lists several that way).
	var ignorePaths []string
	for _, v := range ignore {
		for p := range strings.SplitSeq(v, ",") {
			if err := replay.CheckIgnorePath(p); err != nil {
				return usageError{fmt.Errorf("--ignore %w", err)}
			}
			ignorePaths = append(ignorePaths, strings.TrimSpace(p))
		}
	}
	if url != "" {
		if err := checkWidgetURL(url); err != nil {
			return usageError{err}
		}
	}
	if faults != "" {
		b, err := os.ReadFile(filepath.Clean(faults))
		if err == nil {
			_, err = emulator.ParseFaultProfile(b)
		}
		if err != nil {
			return usageError{fmt.Errorf("--faults %s: %w", faults, err)}
		}
	}
	caps, err := replay.Load(files...)
	if err != nil {
		return usageError{err}
	}
	rules := replay.Rules{LatencyTolerance: tolerance, Ignore: ignorePaths}
	report := &replay.Report{}
	tty := isTerminal(stderr)
	for i, c := range caps {
		opts := &replay.Options{URL: url, Token: token, Mode: mode, Speed: speed, Rules: rules, Grace: grace}
		if tty {
			name := c.Name()
			opts.Progress = func(sent, total int) { fmt.Fprintf(stderr, "\r%s: %d/%d frames sent", name, sent, total) }
		}
		var emb *embeddedDaemon
		if embedded {
			dir := ""
			if ledgerDir != "" && c.NeedsLedger() {
				dir = filepath.Join(ledgerDir, fmt.Sprintf("capture-%d", i+1)) // not the session id: it comes from the file
				if err := os.MkdirAll(dir, 0o750); err != nil {
					return fmt.Errorf("--ledger-dir: %w", err)
				}
			}
			emb, err = startEmbedded(ctx, c.Header, mode, faults, dir)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", c.Name(), err)}
			}
			opts.URL = emb.url
		}
		rep, err := replay.Run(ctx, c, opts)
		if emb != nil {
			emb.close()
		}
		if tty {
			fmt.Fprint(stderr, "\r\033[K")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name(), err)
		}
		report.Sessions = append(report.Sessions, rep)
	}
	report.WriteText(stdout)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(report, "", "  ")
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write --json: %w", err)
		}
	}
	if !report.OK() {
		return errDiverged
	}
	return nil
}

// checkWidgetURL accepts a bridge's widget endpoint: ws:// or wss://
// with a host.
func checkWidgetURL(raw string) error {
	u, err := neturl.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("--url %q is not a URL (%v): give the widget endpoint, e.g. --url ws://127.0.0.1:8787/v1/widget", raw, err)
	case u.Scheme != "ws" && u.Scheme != "wss":
		return fmt.Errorf("--url %q must start with ws:// or wss://, e.g. --url ws://127.0.0.1:8787/v1/widget", raw)
	case u.Host == "":
		return fmt.Errorf("--url %q has no host, e.g. --url ws://127.0.0.1:8787/v1/widget", raw)
	}
	return nil
}

// splitArgs separates flags from FILE arguments so flags may follow the
// files (flag.Parse stops at the first non-flag).
func splitArgs(fs *flag.FlagSet, args []string) (flags, files []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(files, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, files
}
