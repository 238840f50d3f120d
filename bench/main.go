// Command bench is cifbridge's benchmark suite: the bridge against the
// physical limit of its WebSocket library on this machine, in one run.
//
//	go run ./bench                      # full suite, 3 repetitions (about 8 minutes)
//	go run ./bench --reps 5 --idle 2000 --json bench.json
//	go run ./bench --readme-table bench.json   # the README's table, from a run's JSON
//
// It builds cmd/cifbridge and starts `cifbridge serve` (zero-latency
// emulator) as a subprocess, and a raw coder/websocket echo server as a
// second subprocess (this binary re-executed with --echo-server), so that the
// RSS of each server is its own. Then it
//
//  1. drives both with the same closed-loop load (cif.createrecord payloads,
//     one call in flight per session) at 1, 16 and 64 sessions;
//  2. runs the bridge open loop at half its 64-session maximum and reports p99;
//  3. measures RSS per idle session at --idle sessions (default 10 000 and
//     50 000, each skipped with a note when the file limit cannot be raised
//     high enough) on fresh servers;
//  4. measures how late the CIF timeout fires with 10 000 and 50 000 attempts
//     in flight (--timeout-inflight; fault rule drop:true, 100 calls in flight
//     per session, so 50 000 fit in a 20 000 file limit): client-observed
//     -32000 arrival minus send time minus the timeout, beside the raw echo
//     answering every message after the same delay with a runtime timer of
//     its own (the machine's floor for a delayed answer);
//
// Every figure is measured --reps times (fresh servers each repetition) and
// reported as the median with min and max; bridge/echo ratios are taken
// within one repetition first. Server CPU is the subprocess's utime+stime
// from /proc, reported per 100 000 round trips. It prints one table (JSON
// with --json, the README's markdown table with --readme-table). Its tests
// check only the table generator; the measurements run here, never under
// `go test`.
//
// Its client side is the load tool's (loadtest) and client.DialRaw: frames
// written and read raw, so that the figures are the bridge's (see the
// client package doc).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/loadtest"
	"github.com/cifbridge/cifbridge/protocol"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return // the help is printed; asking for it is not a failure
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
}

type options struct {
	echoServer string
	sessions   string
	duration   time.Duration
	idle       int
	inflightTO []int
	perSession int
	toRate     float64
	jsonOut    string
	bin        string
	skipIdle   bool
	skipTO     bool
	bridgeArgs string
	reps       int
	idleCounts []int
	readme     string
	idleProf   string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout) // asked-for help goes to stdout, like cifbridge's
		}
	}
	fs.StringVar(&o.echoServer, "echo-server", "", "internal: serve the raw echo baseline on this address")
	echoDelay := fs.Duration("echo-delay", 0, "internal: with --echo-server, answer each message after this delay (a runtime timer each)")
	fs.StringVar(&o.sessions, "sessions", "1,16,64", "session counts of the closed-loop comparison (empty: skip it and the open loop)")
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "measured time per point (after 1 s warmup)")
	idle := fs.String("idle", "10000,50000", "idle session `counts` for the RSS-per-session measurement, comma-separated")
	inflightTO := fs.String("timeout-inflight", "10000,50000", "attempts in flight for the timeout-lateness measurement, comma-separated `counts`")
	fs.IntVar(&o.perSession, "timeout-per-session", 100, "calls in flight per session in the timeout-lateness measurement (the bridge's --max-inflight is raised to match)")
	fs.Float64Var(&o.toRate, "timeout-rate", 5000, "send rate (calls/s) that fills the bridge for the timeout-lateness measurement; all are sent before the first deadline")
	fs.StringVar(&o.jsonOut, "json", "", "write the results as JSON to `file`")
	fs.StringVar(&o.bin, "bin", "", "prebuilt cifbridge `binary` (default: go build ./cmd/cifbridge)")
	fs.BoolVar(&o.skipIdle, "skip-idle", false, "skip the idle-RSS measurement")
	fs.StringVar(&o.idleProf, "idle-profile", "", "save the bridge's heap and goroutine profiles at each --idle count into `dir` (heap-N.pb.gz, goroutine-N.txt; read with go tool pprof -sample_index=inuse_space)")
	fs.BoolVar(&o.skipTO, "skip-timeout", false, "skip the timeout-lateness measurement")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of every measurement (fresh servers each); figures are the median with min and max")
	fs.StringVar(&o.readme, "readme-table", "", "print the README's performance table (markdown) from the JSON `file` of an earlier --json run, and exit")
	fs.StringVar(&o.bridgeArgs, "bridge-args", "", "extra `flags` for every cifbridge serve the suite starts, space-separated (e.g. \"--emulator-max-records 10000\" to see what the emulator's store costs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.echoServer != "" {
		return serveEcho(ctx, o.echoServer, *echoDelay)
	}
	if o.readme != "" {
		return printReadmeTable(o.readme, stdout)
	}
	if o.reps < 1 {
		return fmt.Errorf("--reps %d: need at least 1 repetition", o.reps)
	}
	var err error
	if o.idleCounts, err = counts("--idle", *idle, 2); err != nil {
		return err
	}
	if o.inflightTO, err = counts("--timeout-inflight", *inflightTO, 1); err != nil {
		return err
	}
	if o.perSession < 1 {
		return fmt.Errorf("--timeout-per-session %d: need at least 1 call per session", o.perSession)
	}
	noFile := raiseNoFile(stderr)
	tmp, err := os.MkdirTemp("", "cifbridge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.bin == "" {
		o.bin = filepath.Join(tmp, "cifbridge")
		fmt.Fprintln(stderr, "building cifbridge …")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "./cmd/cifbridge")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build cifbridge (run from the module root): %w", err)
		}
	}
	res := &Results{Environment: env(), Reps: o.reps}
	res.Environment["bridgeArgs"] = o.bridgeArgs
	res.Environment["noFileLimit"] = noFile
	res.Environment["perfInstructions"] = probePerf()
	for i := range o.reps {
		fmt.Fprintf(stderr, "— repetition %d of %d —\n", i+1, o.reps)
		b := &bencher{o: o, tmp: tmp, out: stderr, rep: &Rep{}, noFile: noFile, perf: res.Environment["perfInstructions"] == "supported"}
		if strings.TrimSpace(o.sessions) != "" {
			if err := b.throughput(ctx); err != nil {
				return err
			}
		}
		if !o.skipIdle {
			if err := b.idleRSS(ctx); err != nil {
				return err
			}
		}
		if !o.skipTO {
			if err := b.timeoutLateness(ctx); err != nil {
				return err
			}
		}
		res.Runs = append(res.Runs, *b.rep)
	}
	res.Summary = summarize(res.Runs)
	res.print(stdout)
	if o.jsonOut != "" {
		f, err := os.Create(o.jsonOut)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}

// counts parses a comma-separated list of counts, each at least least.
func counts(flag, list string, least int) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < least {
			return nil, fmt.Errorf("%s: bad count %q (want a comma-separated list of counts ≥ %d, e.g. 10000,50000)", flag, f, least)
		}
		out = append(out, n)
	}
	return out, nil
}

// raiseNoFile lifts RLIMIT_NOFILE (inherited by the servers started below)
// as far as it can: 50 000 sessions need 50 000 descriptors a side. It tries
// 200 000 first (possible with CAP_SYS_RESOURCE), then the hard limit, and
// returns the soft limit it ends with.
func raiseNoFile(log io.Writer) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Fprintf(log, "read RLIMIT_NOFILE: %v\n", err)
		return 0
	}
	const want = 200_000
	if rl.Max < want {
		up := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err == nil {
			return want
		}
		fmt.Fprintf(log, "RLIMIT_NOFILE: cannot raise the hard limit %d to %d (needs CAP_SYS_RESOURCE or a higher `ulimit -Hn`); using %d\n", rl.Max, want, rl.Max)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Fprintf(log, "raise RLIMIT_NOFILE: %v\n", err)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur
}

// Point is one closed-loop measurement of both servers in one repetition.
type Point struct {
	Sessions     int     `json:"sessions"`
	BridgeRate   float64 `json:"bridgeRate"`
	EchoRate     float64 `json:"echoRate"`
	Ratio        float64 `json:"ratio"`
	BridgeP50Us  int64   `json:"bridgeP50Us"`
	BridgeP99Us  int64   `json:"bridgeP99Us"`
	EchoP50Us    int64   `json:"echoP50Us"`
	EchoP99Us    int64   `json:"echoP99Us"`
	BridgeErrors int64   `json:"bridgeErrors"`
	// BridgeFirstErrors are the first of them in full (the load tool's
	// samples: at most 5, at most 2 of one code).
	BridgeFirstErrors []loadtest.ErrorSample `json:"bridgeFirstErrors,omitempty"`
	ClientCPUPct      float64                `json:"clientCpuPercentBridgeRun"`
	BridgeCPUPct      float64                `json:"bridgeCpuPercent"`
	EchoServerCPU     float64                `json:"echoServerCpuPercent"`
	// Server CPU-seconds (utime+stime from /proc) per 100 000 round trips,
	// over the whole load run (warmup included) and every call answered in it.
	BridgeCPUPer100k float64 `json:"bridgeCpuSecondsPer100k"`
	EchoCPUPer100k   float64 `json:"echoCpuSecondsPer100k"`
	CPURatio         float64 `json:"cpuRatio"`
	// Instructions per round trip (perf stat on the server process), 0 when
	// perf cannot count instructions on this machine.
	BridgeInstrPerCall float64 `json:"bridgeInstructionsPerCall,omitempty"`
	EchoInstrPerCall   float64 `json:"echoInstructionsPerCall,omitempty"`
}

// HalfRate is the open-loop run at half the bridge's 64-session maximum.
type HalfRate struct {
	Rate     float64 `json:"rate"`
	Achieved float64 `json:"achieved"`
	P50Us    int64   `json:"p50Us"`
	P99Us    int64   `json:"p99Us"`
	P999Us   int64   `json:"p999Us"`
	MaxUs    int64   `json:"maxUs"`
	Dropped  int64   `json:"dropped"`
	Errors   int64   `json:"errors"`
	// ErrorsByCode is the bridge's error answers by JSON-RPC code.
	ErrorsByCode map[string]int64 `json:"errorsByCode,omitempty"`
	// FirstErrors are the first of them in full.
	FirstErrors []loadtest.ErrorSample `json:"firstErrors,omitempty"`
	// The suite's own process (the client) during the bridge's and the
	// echo's open-loop runs: CPU (% of one core) and GC cycles.
	ClientCPUPct       float64 `json:"clientCpuPercent"`
	ClientGCCycles     uint64  `json:"clientGcCycles"`
	EchoClientCPUPct   float64 `json:"echoClientCpuPercent"`
	EchoClientGCCycles uint64  `json:"echoClientGcCycles"`
	EchoP99Us          int64   `json:"echoP99Us"`
	EchoP999Us         int64   `json:"echoP999Us"`
	// Server CPU-seconds per 100 000 calls in the open loop, where each
	// call arrives alone and pays its own wakeups (more than in the
	// closed loop, where a busy reader finds the next frame waiting).
	BridgeCPUPer100k float64 `json:"bridgeCpuSecondsPer100k,omitempty"`
	EchoCPUPer100k   float64 `json:"echoCpuSecondsPer100k,omitempty"`
}

// IdleRSS is the server RSS per idle session.
type IdleRSS struct {
	Server        string  `json:"server"`
	Sessions      int     `json:"sessions"`
	BaseKiB       int64   `json:"baseKiB"`
	LoadedKiB     int64   `json:"loadedKiB"`
	PerSessionKiB float64 `json:"perSessionKiB"`
	// GoroutinesPerSession is the bridge's go_goroutines (/metrics) per
	// idle session; 0 for the echo, which has no metrics.
	GoroutinesPerSession float64 `json:"goroutinesPerSession,omitempty"`
	// HeapKiB and StackKiB split the bridge's share: Go heap in use and
	// goroutine stacks per idle session (/metrics, after the same settling).
	HeapKiB  float64 `json:"heapKiBPerSession,omitempty"`
	StackKiB float64 `json:"stackKiBPerSession,omitempty"`
	Skipped  string  `json:"skipped,omitempty"` // why it was not measured
}

// TimeoutFiring is how late the CIF timeout came back to the client at one
// in-flight count, beside the raw echo answering after the same delay.
type TimeoutFiring struct {
	InFlight   int     `json:"inflight"`
	Sessions   int     `json:"sessions,omitempty"`
	TimeoutMs  int64   `json:"timeoutMs"`
	SendSpanMs float64 `json:"sendSpanMs"` // first to last send
	SendRate   float64 `json:"sendRate"`
	// BridgeFlags are the flags the bridge ran this scenario with.
	BridgeFlags string `json:"bridgeFlags,omitempty"`
	// BridgeInFlight is the bridge's own count of attempts in flight once
	// everything was sent, before the first deadline (-1: unknown).
	BridgeInFlight int     `json:"bridgeInFlight"`
	Received       int     `json:"received"`
	LateP50Ms      float64 `json:"lateP50Ms"`
	LateP99Ms      float64 `json:"lateP99Ms"`
	LateMaxMs      float64 `json:"lateMaxMs"`
	OtherErrors    int     `json:"otherErrors"`
	// The same answers, late from the deadline the bridge set (its
	// Started, when it read the frame, plus the timeout; from
	// /api/v1/sessions before the first deadline), and how long after its
	// send each frame was read: the client-observed lateness is the sum.
	// N 0 (omitted): the listing could not be read.
	DeadlineLateP50Ms float64 `json:"deadlineLateP50Ms,omitempty"`
	DeadlineLateP99Ms float64 `json:"deadlineLateP99Ms,omitempty"`
	DeadlineLateMaxMs float64 `json:"deadlineLateMaxMs,omitempty"`
	ReadDelayP99Ms    float64 `json:"readDelayP99Ms,omitempty"`
	ReadDelayMaxMs    float64 `json:"readDelayMaxMs,omitempty"`
	// The raw echo holding every message for the timeout (a runtime timer
	// each) before it echoes it: how late a delayed answer comes on this
	// machine with the same client and transport. EchoReceived 0: not run.
	EchoReceived  int     `json:"echoReceived,omitempty"`
	EchoLateP50Ms float64 `json:"echoLateP50Ms,omitempty"`
	EchoLateP99Ms float64 `json:"echoLateP99Ms,omitempty"`
	EchoLateMaxMs float64 `json:"echoLateMaxMs,omitempty"`
}

type bencher struct {
	o      options
	tmp    string
	out    io.Writer
	rep    *Rep
	noFile uint64 // RLIMIT_NOFILE after raiseNoFile
	perf   bool   // perf stat can count instructions
}

// server is a started subprocess.
type server struct {
	name string
	cmd  *exec.Cmd
	addr string
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (b *bencher) start(ctx context.Context, name string, args ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	if name == "echo" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = exec.CommandContext(ctx, self, append([]string{"--echo-server", addr}, args...)...)
	} else {
		dir, _ := os.MkdirTemp(b.tmp, "data-")
		// The suite drives one session at thousands of calls/s and 10 000
		// sessions from loopback: lift the per-session call rate and the
		// per-IP connection cap meant for real clients.
		base := []string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "error", "--log-format", "json",
			"--max-call-rate", "0", "--max-conns-per-ip", "-1"}
		cmd = exec.CommandContext(ctx, b.o.bin, append(base, append(args, strings.Fields(b.o.bridgeArgs)...)...)...)
	}
	cmd.Stdout, cmd.Stderr = b.out, b.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: name, cmd: cmd, addr: addr}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start listening on %s", name, addr)
}

func (s *server) url() string { return "ws://" + s.addr + protocol.PathWidget }

func (s *server) stop() { stopProcess(s.cmd, syscall.SIGTERM) }

// stopProcess sends cmd sig and waits for it to exit, killing it when it
// has not within 5 s.
func stopProcess(cmd *exec.Cmd, sig os.Signal) {
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// cpuSeconds is a process's user+system CPU time from /proc.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// serverUse is what a server spent on one load run.
type serverUse struct {
	cpuPct     float64 // of one core, over the run
	cpuSeconds float64
	calls      int64   // answered, warmup included
	instr      float64 // perf stat instructions, 0 when not counted
}

// per100k is CPU-seconds per 100 000 calls.
func (u serverUse) per100k() float64 {
	if u.calls == 0 {
		return 0
	}
	return u.cpuSeconds / float64(u.calls) * 100_000
}

func (u serverUse) instrPerCall() float64 {
	if u.calls == 0 {
		return 0
	}
	return u.instr / float64(u.calls)
}

func (b *bencher) load(ctx context.Context, s *server, cfg loadtest.Config) (*loadtest.Report, serverUse, error) {
	cfg.URL = s.url()
	cfg.Echo = s.name == "echo"
	cfg.SeedRecords = -1
	cfg.Mix = loadtest.Mix{{Method: protocol.MethodCreateRecord, Weight: 1}}
	cfg.Warmup = time.Second
	cfg.Duration = b.o.duration
	cfg.MaxInFlight = 256
	var pc *perfCounter
	if b.perf {
		pc = startPerf(ctx, s.cmd.Process.Pid)
	}
	c0, t0 := cpuSeconds(s.cmd.Process.Pid), time.Now()
	rep, err := loadtest.Run(ctx, cfg)
	var u serverUse
	u.cpuSeconds = cpuSeconds(s.cmd.Process.Pid) - c0
	u.cpuPct = 100 * u.cpuSeconds / time.Since(t0).Seconds()
	if pc != nil {
		u.instr = pc.stop()
	}
	if rep != nil {
		for _, t := range rep.Totals {
			u.calls += t.Answered
		}
	}
	return rep, u, err
}

func (b *bencher) throughput(ctx context.Context) error {
	br, err := b.start(ctx, "bridge", "--max-inflight", "256")
	if err != nil {
		return err
	}
	defer br.stop()
	echo, err := b.start(ctx, "echo")
	if err != nil {
		return err
	}
	defer echo.stop()
	var counts []int
	for f := range strings.SplitSeq(b.o.sessions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("--sessions: bad count %q", f)
		}
		counts = append(counts, n)
	}
	var max64 float64
	for _, n := range counts {
		p := Point{Sessions: n}
		fmt.Fprintf(b.out, "closed loop, %d sessions: bridge …\n", n)
		rb, bu, err := b.load(ctx, br, loadtest.Config{Sessions: n, Closed: true, InFlight: 1})
		if err != nil {
			return err
		}
		fmt.Fprintf(b.out, "closed loop, %d sessions: raw echo …\n", n)
		re, eu, err := b.load(ctx, echo, loadtest.Config{Sessions: n, Closed: true, InFlight: 1})
		if err != nil {
			return err
		}
		p.BridgeRate, p.EchoRate = rb.AchievedRate, re.AchievedRate
		if p.EchoRate > 0 {
			p.Ratio = p.BridgeRate / p.EchoRate
		}
		p.BridgeP50Us, p.BridgeP99Us = rb.LatencyUs.P50, rb.LatencyUs.P99
		p.EchoP50Us, p.EchoP99Us = re.LatencyUs.P50, re.LatencyUs.P99
		p.BridgeErrors, p.BridgeFirstErrors = rb.Errors, rb.FirstErrors
		p.ClientCPUPct = rb.Client.CPUPercent
		p.BridgeCPUPct, p.EchoServerCPU = bu.cpuPct, eu.cpuPct
		p.BridgeCPUPer100k, p.EchoCPUPer100k = bu.per100k(), eu.per100k()
		if p.EchoCPUPer100k > 0 {
			p.CPURatio = p.BridgeCPUPer100k / p.EchoCPUPer100k
		}
		p.BridgeInstrPerCall, p.EchoInstrPerCall = bu.instrPerCall(), eu.instrPerCall()
		b.rep.Points = append(b.rep.Points, p)
		if n == 64 {
			max64 = p.BridgeRate
		}
	}
	if max64 > 0 {
		rate := max64 / 2
		fmt.Fprintf(b.out, "open loop at half the 64-session maximum (%.0f/s): bridge, raw echo …\n", rate)
		rb, bu, err := b.load(ctx, br, loadtest.Config{Sessions: 64, Rate: rate})
		if err != nil {
			return err
		}
		re, eu, err := b.load(ctx, echo, loadtest.Config{Sessions: 64, Rate: rate})
		if err != nil {
			return err
		}
		b.rep.HalfRate = &HalfRate{Rate: rate, Achieved: rb.AchievedRate, P50Us: rb.LatencyUs.P50, P99Us: rb.LatencyUs.P99,
			P999Us: rb.LatencyUs.P999, MaxUs: rb.LatencyUs.Max, Dropped: rb.Dropped, Errors: rb.Errors, ErrorsByCode: rb.ErrorsByCode,
			FirstErrors:  rb.FirstErrors,
			ClientCPUPct: rb.Client.CPUPercent, ClientGCCycles: rb.Client.GCCycles, EchoClientCPUPct: re.Client.CPUPercent, EchoClientGCCycles: re.Client.GCCycles,
			EchoP99Us: re.LatencyUs.P99, EchoP999Us: re.LatencyUs.P999,
			BridgeCPUPer100k: bu.per100k(), EchoCPUPer100k: eu.per100k()}
	}
	return nil
}

// idleRSS opens n sessions on a fresh server, one call each, and reports
// (RSS with them − RSS with one) / n, for every --idle count the file limit
// allows. A count it does not allow is recorded as skipped, with why, and
// the largest count that fits is measured in its place (once).
func (b *bencher) idleRSS(ctx context.Context) error {
	var counts []int
	for _, n := range b.o.idleCounts {
		if uint64(n)+idleFDSpare <= b.noFile {
			counts = append(counts, n)
			continue
		}
		fit := idleFit(b.noFile)
		msg := fmt.Sprintf("skipped: RLIMIT_NOFILE is %d (the hard limit, which needs CAP_SYS_RESOURCE or a higher `ulimit -Hn` to raise), %d sessions need %d", b.noFile, n, uint64(n)+idleFDSpare)
		if fit >= 2 {
			msg += fmt.Sprintf("; measured the largest count that fits, %d, instead", fit)
			if !slices.Contains(b.o.idleCounts, int(fit)) && !slices.Contains(counts, int(fit)) {
				counts = append(counts, int(fit))
			}
		}
		fmt.Fprintf(b.out, "idle RSS at %d sessions %s\n", n, msg)
		b.rep.Idle = append(b.rep.Idle, IdleRSS{Server: "bridge", Sessions: n, Skipped: msg}, IdleRSS{Server: "echo", Sessions: n, Skipped: msg})
	}
	for _, n := range counts {
		for _, name := range []string{"bridge", "echo"} {
			var args []string
			if name == "bridge" && b.o.idleProf != "" {
				args = []string{"--pprof"}
			}
			s, err := b.start(ctx, name, args...)
			if err != nil {
				return err
			}
			r, err := b.idleOne(ctx, s, n)
			s.stop()
			if err != nil {
				return err
			}
			b.rep.Idle = append(b.rep.Idle, r)
		}
	}
	return nil
}

// idleFDSpare is what a side needs beside its n sockets: this process holds
// n client sockets and the server n more (its own limit, inherited from
// here), plus pipes, listeners and files.
const idleFDSpare = 256

// idleFit is the largest idle session count the file limit holds, rounded
// down to 500.
func idleFit(noFile uint64) uint64 {
	if noFile <= idleFDSpare {
		return 0
	}
	return (noFile - idleFDSpare) / 500 * 500
}

func (b *bencher) idleOne(ctx context.Context, s *server, n int) (IdleRSS, error) {
	fmt.Fprintf(b.out, "idle RSS: %d sessions on %s …\n", n, s.name)
	pid := s.cmd.Process.Pid
	conns := make([]*client.RawConn, 0, n)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	call := func(c *client.RawConn) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.Write(ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.getmode","params":{}}`)); err != nil {
			return err
		}
		_, err := c.Read(ctx)
		return err
	}
	dial := func() (*client.RawConn, error) {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := client.DialRaw(dctx, s.url(), nil)
		if err != nil {
			return nil, err
		}
		return c, call(c)
	}
	first, err := dial()
	if err != nil {
		return IdleRSS{}, err
	}
	conns = append(conns, first)
	time.Sleep(time.Second)
	base := loadtest.RSSKiB(pid)
	m0 := serverMetrics(ctx, s)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range n - 1 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dial()
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				conns = append(conns, c)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return IdleRSS{}, fmt.Errorf("open %d idle sessions on %s: %w", n, s.name, firstErr)
	}
	time.Sleep(3 * time.Second) // let the server settle (GC)
	loaded := loadtest.RSSKiB(pid)
	r := IdleRSS{Server: s.name, Sessions: n, BaseKiB: base, LoadedKiB: loaded, PerSessionKiB: float64(loaded-base) / float64(n-1)}
	if m1 := serverMetrics(ctx, s); m0 != nil && m1 != nil {
		per := func(name string) float64 { return (m1[name] - m0[name]) / float64(n-1) }
		r.GoroutinesPerSession = per("go_goroutines")
		r.HeapKiB = per("go_memstats_heap_inuse_bytes") / 1024
		r.StackKiB = per("go_memstats_stack_inuse_bytes") / 1024
		fmt.Fprintf(b.out, "idle RSS: %d sessions on %s: %.1f KiB RSS per session (Go heap %.1f, stacks %.1f), %.2f goroutines per session\n",
			n, s.name, r.PerSessionKiB, r.HeapKiB, r.StackKiB, r.GoroutinesPerSession)
	}
	if s.name == "bridge" && b.o.idleProf != "" {
		if err := saveProfiles(ctx, s, b.o.idleProf, n); err != nil {
			fmt.Fprintf(b.out, "idle profile at %d sessions: %v\n", n, err)
		}
	}
	return r, nil
}

// saveProfiles fetches the bridge's heap profile (after a GC) and its
// goroutine dump into dir, for the breakdown of an idle session's memory in
// docs/performance.md.
func saveProfiles(ctx context.Context, s *server, dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range []struct{ path, file string }{
		{"heap?gc=1", fmt.Sprintf("heap-%d.pb.gz", n)},
		{"goroutine?debug=1", fmt.Sprintf("goroutine-%d.txt", n)},
	} {
		if err := fetchTo(ctx, "http://"+s.addr+"/api/v1/debug/pprof/"+p.path, filepath.Join(dir, p.file)); err != nil {
			return err
		}
	}
	return nil
}

func fetchTo(ctx context.Context, url, file string) error {
	body, err := httpGet(ctx, url, 256<<20)
	if err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

// httpGet returns the body (at most limit bytes) of a GET that answers 200.
func httpGet(ctx context.Context, url string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit))
}

// timeoutLateness measures, at every --timeout-inflight count, how late the
// CIF timeout fires on a bridge filled with attempts the emulator drops, and
// how late the raw echo answers when it holds every message for the same
// time. The attempts are sent at a rate the bridge can read (--timeout-rate),
// all before the first deadline, so every one of them is in flight when the
// timeouts start to fire; lateness is then the timer's and the answer's, not
// a queue of unread frames in front of the bridge.
func (b *bencher) timeoutLateness(ctx context.Context) error {
	faults := filepath.Join(b.tmp, "drop.json")
	if err := os.WriteFile(faults, []byte(`{"seed":1,"rules":[{"method":"*","drop":true}]}`), 0o644); err != nil {
		return err
	}
	for _, n := range b.o.inflightTO {
		per := min(b.o.perSession, n)
		sessions := (n + per - 1) / per
		sendSpan := time.Duration(float64(n) / b.o.toRate * float64(time.Second))
		timeout := (sendSpan*3/2 + time.Second).Truncate(time.Second)
		// Lift what stands between a few sessions and n calls in flight: the
		// per-session in-flight limit (the bridge has no global one; its
		// connection cap follows the file limit). The late window only has
		// to outlast the run.
		flags := []string{"--cif-timeout", timeout.String(), "--late-window", "3s", "--max-inflight", strconv.Itoa(per + 1), "--emulator-faults", faults}
		tf := &TimeoutFiring{InFlight: n, Sessions: sessions, TimeoutMs: timeout.Milliseconds(), SendRate: b.o.toRate,
			BridgeFlags: strings.Join(flags[:6], " ")}
		fmt.Fprintf(b.out, "timeout firing: %d attempts in flight over %d sessions, sent at %.0f/s; bridge with %s …\n", n, sessions, b.o.toRate, tf.BridgeFlags)
		s, err := b.start(ctx, "bridge", flags...)
		if err != nil {
			return err
		}
		f, err := b.fire(ctx, s, n, per, timeout, true)
		s.stop()
		if err != nil {
			return err
		}
		tf.SendSpanMs, tf.BridgeInFlight, tf.Received, tf.OtherErrors = f.sendSpanMs, f.peak, f.received, f.other
		tf.LateP50Ms, tf.LateP99Ms, tf.LateMaxMs = f.p50, f.p99, f.max
		if len(f.fromDeadline) > 0 {
			tf.DeadlineLateP50Ms, tf.DeadlineLateP99Ms, tf.DeadlineLateMaxMs = quantileMs(f.fromDeadline, 0.5), quantileMs(f.fromDeadline, 0.99), quantileMs(f.fromDeadline, 1)
			tf.ReadDelayP99Ms, tf.ReadDelayMaxMs = quantileMs(f.readDelay, 0.99), quantileMs(f.readDelay, 1)
		}
		fmt.Fprintf(b.out, "timeout firing: %d messages over %d sessions on the raw echo, each answered after %v …\n", n, sessions, timeout)
		s, err = b.start(ctx, "echo", "--echo-delay", timeout.String())
		if err != nil {
			return err
		}
		f, err = b.fire(ctx, s, n, per, timeout, false)
		s.stop()
		if err != nil {
			return err
		}
		tf.EchoReceived, tf.EchoLateP50Ms, tf.EchoLateP99Ms, tf.EchoLateMaxMs = f.received-f.other, f.p50, f.p99, f.max
		b.rep.Timeouts = append(b.rep.Timeouts, *tf)
	}
	return nil
}

// firing is one timeout-firing run against one server.
type firing struct {
	sendSpanMs    float64
	peak          int // the bridge's in-flight count after the last send; -1 unknown
	received      int
	other         int // answers that are not the expected one (-32000, or the echo)
	p50, p99, max float64
	// From the bridge's own deadlines (bridge only; empty when unknown):
	// each answer's lateness from its deadline, each frame's read delay.
	fromDeadline, readDelay []time.Duration
	listedLate              bool // the listing ended after the first deadline
}

// fire sends n createrecord calls, per to a session, over n/per sessions
// at --timeout-rate, and measures when each answer arrives: how late after
// its send time plus timeout. From the bridge, the answer expected is the
// -32000; from the echo, the message itself.
func (b *bencher) fire(ctx context.Context, s *server, n, per int, timeout time.Duration, bridge bool) (firing, error) {
	sessions := (n + per - 1) / per
	interval := time.Duration(float64(sessions) / b.o.toRate * float64(time.Second)) // per session
	conns := make([]*client.RawConn, sessions)
	for i := range conns {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.DialRaw(dctx, s.url(), nil)
		cancel()
		if err != nil {
			return firing{}, err
		}
		defer c.CloseNow()
		conns[i] = c
	}
	type result struct {
		id   int // global: session i's call j is i*per + j
		at   time.Time
		late time.Duration
		ok   bool
	}
	results := make(chan result, n)
	sentAt := make([]time.Time, n)
	var sendFirst, sendLast time.Time
	var mu sync.Mutex
	var wg, writers sync.WaitGroup
	start := time.Now().Add(100 * time.Millisecond)
	for i, c := range conns {
		k := min(per, n-i*per)
		sent := make([]time.Time, k)
		var ready sync.WaitGroup
		ready.Add(1)
		wg.Go(func() { // reader
			ready.Wait()
			for range k {
				rctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
				msg, err := c.Read(rctx)
				cancel()
				now := time.Now()
				if err != nil {
					return
				}
				var m struct {
					ID    int `json:"id"`
					Error *struct {
						Code int64 `json:"code"`
					} `json:"error"`
				}
				if json.Unmarshal(msg, &m) != nil || m.ID < i*per || m.ID >= i*per+k {
					continue
				}
				ok := m.Error == nil
				if bridge {
					ok = m.Error != nil && m.Error.Code == protocol.CodeTimeout
				}
				results <- result{id: m.ID, at: now, late: now.Sub(sent[m.ID-i*per]) - timeout, ok: ok}
			}
		})
		offset := time.Duration(i) * interval / time.Duration(sessions)
		writers.Add(1)
		wg.Go(func() { // writer
			defer writers.Done()
			defer ready.Done()
			for j := range k {
				msg := []byte(`{"jsonrpc":"2.0","id":` + strconv.Itoa(i*per+j) + `,"method":"cif.createrecord","params":` + benchContact + `}`)
				time.Sleep(time.Until(start.Add(offset + time.Duration(j)*interval)))
				now := time.Now()
				sent[j] = now
				sentAt[i*per+j] = now
				mu.Lock()
				if sendFirst.IsZero() || now.Before(sendFirst) {
					sendFirst = now
				}
				if now.After(sendLast) {
					sendLast = now
				}
				mu.Unlock()
				if err := c.Write(ctx, msg); err != nil {
					return
				}
			}
		})
	}
	writers.Wait()
	f := firing{peak: -1}
	var deadlines map[int]time.Time
	if bridge {
		// Every attempt is sent; none has reached its deadline yet: ask the
		// bridge how many it holds, and their deadlines.
		f.peak = b.inflight(ctx, s)
		deadlines = b.deadlines(ctx, s, sentAt, &f)
	}
	wg.Wait()
	close(results)
	f.sendSpanMs = float64(sendLast.Sub(sendFirst).Microseconds()) / 1000
	var lates []time.Duration
	for r := range results {
		f.received++
		if !r.ok {
			f.other++
			continue
		}
		lates = append(lates, r.late)
		if d, ok := deadlines[r.id]; ok {
			f.fromDeadline = append(f.fromDeadline, r.at.Sub(d))
		}
	}
	if len(lates) > 0 {
		f.p50, f.p99, f.max = quantileMs(lates, 0.5), quantileMs(lates, 0.99), quantileMs(lates, 1)
	}
	return f, nil
}

// quantileMs is the p-quantile of ds in milliseconds; it sorts ds.
func quantileMs(ds []time.Duration, p float64) float64 {
	slices.Sort(ds)
	return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
}

// deadlines reads every in-flight attempt's deadline from
// /api/v1/sessions, keyed by request id (the global call number), and
// records in f each frame's read delay: the bridge's Started minus the
// client's send time. Nil when the listing cannot be read.
func (b *bencher) deadlines(ctx context.Context, s *server, sentAt []time.Time, f *firing) map[int]time.Time {
	// The listing scans the table once per session: slow at 50 000 on a
	// loaded machine, hence the long timeout.
	admin := &client.Admin{Base: "http://" + s.addr, HTTPClient: &http.Client{Timeout: time.Minute}}
	sessions, err := admin.Sessions(ctx)
	if err != nil {
		fmt.Fprintf(b.out, "timeout firing: cannot list the in-flight attempts (%v); lateness from the bridge's deadlines not measured\n", err)
		return nil
	}
	listed := time.Now()
	out := make(map[int]time.Time, len(sentAt))
	for _, x := range sessions {
		for _, a := range x.InFlight {
			id, err := strconv.Atoi(string(a.RequestID))
			if err != nil || id < 0 || id >= len(sentAt) {
				continue
			}
			out[id] = a.Deadline
			f.readDelay = append(f.readDelay, a.Started.Sub(sentAt[id]))
			if a.Deadline.Before(listed) && !f.listedLate {
				f.listedLate = true
				fmt.Fprintf(b.out, "timeout firing: the in-flight listing came back after the first deadline: the listing may have delayed the first timeouts\n")
			}
		}
	}
	return out
}

// inflight reads the correlation table's in-flight count from /api/v1/status.
func (b *bencher) inflight(ctx context.Context, s *server) int {
	st, err := (&client.Admin{Base: "http://" + s.addr}).Status(ctx)
	if err != nil {
		return -1
	}
	return st.Correlation.InFlight
}

const benchContact = `{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}}`

// serveEcho is the physical-limit baseline: every text message is written
// back unchanged, one goroutine per connection, same library as the bridge.
// With a delay, each message is written back that long after it was read,
// by a runtime timer of its own (the timeout-firing baseline).
func serveEcho(ctx context.Context, addr string, delay time.Duration) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}, CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		cctx := context.Background()
		for {
			typ, msg, err := c.Read(cctx)
			if err != nil {
				return
			}
			if delay > 0 {
				time.AfterFunc(delay, func() { _ = c.Write(cctx, typ, msg) })
				continue
			}
			if err := c.Write(cctx, typ, msg); err != nil {
				return
			}
		}
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func env() map[string]any {
	e := map[string]any{"goVersion": runtime.Version(), "numCPU": runtime.NumCPU(), "gomaxprocs": runtime.GOMAXPROCS(0), "os": runtime.GOOS, "arch": runtime.GOARCH}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		e["commit"] = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e["cpuModel"] = strings.TrimSpace(v)
				break
			}
		}
	}
	return e
}

// serverMetrics reads the runtime gauges the idle measurement splits RSS
// by from the bridge's /metrics; nil when the server has none (the echo).
func serverMetrics(ctx context.Context, s *server) map[string]float64 {
	if s.name != "bridge" {
		return nil
	}
	body, err := httpGet(ctx, "http://"+s.addr+"/metrics", 4<<20)
	if err != nil {
		return nil
	}
	m := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes"} {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				m[name], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
	}
	return m
}
