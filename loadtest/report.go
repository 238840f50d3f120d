package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cifbridge/cifbridge/protocol"
)

// Report is the outcome of a Run. Counts without "totals" in their name
// cover the measured phase only; Totals and GroundTruth cover every call
// (seeding, warmup, measured), because the emulator counts all of them.
type Report struct {
	Started     time.Time    `json:"started"`
	Config      ReportConfig `json:"config"`
	Environment Environment  `json:"environment"`
	Truncated   bool         `json:"truncated,omitempty"` // stopped by MaxDuration
	Notes       []string     `json:"notes,omitempty"`

	Duration     float64 `json:"durationSeconds"` // measured phase
	OfferedRate  float64 `json:"offeredRate"`     // calls/s asked for (open loop); sent/s in the closed loop
	AchievedRate float64 `json:"achievedRate"`    // answers/s of measured calls

	Sent       int64 `json:"sent"`
	Answered   int64 `json:"answered"`
	OK         int64 `json:"ok"`
	Errors     int64 `json:"errors"`
	Timeouts   int64 `json:"timeouts"`     // -32000 answers
	Dropped    int64 `json:"droppedSends"` // open loop: not sent (in-flight cap or generator too late)
	SendErrors int64 `json:"sendErrors"`
	Unanswered int64 `json:"unanswered"` // still pending after the drain
	Unmatched  int64 `json:"unmatched"`  // answers to no pending call
	BadFrames  int64 `json:"badFrames"`
	Events     int64 `json:"events"` // event requests and other notifications from the bridge

	LatencyUs    Latency                  `json:"latencyUs"`
	ErrorsByCode map[string]int64         `json:"errorsByCode"`
	Methods      map[string]MethodReport  `json:"methods"`
	Totals       map[string]*methodCounts `json:"totals"`
	Connect      Latency                  `json:"connectUs"`
	// FirstErrors are the first error answers in full, any phase: at most
	// 5, at most 2 of one code (message and data cut at 300 bytes).
	FirstErrors []ErrorSample `json:"firstErrors,omitempty"`

	Late        LateReport   `json:"late"`
	Retries     int64        `json:"retries"`
	Duplicates  Duplicates   `json:"duplicates"`
	GroundTruth *GroundTruth `json:"groundTruth,omitempty"`

	Client      ClientUsage       `json:"client"`
	Timeline    []TimelinePoint   `json:"timeline"`
	Percentiles []PercentilePoint `json:"percentiles"`
}

// ErrorSample is one error answer as the bridge sent it.
type ErrorSample struct {
	Method    string  `json:"method"`
	Code      int64   `json:"code"`
	Message   string  `json:"message"`
	Data      string  `json:"data,omitempty"` // the error's data, raw JSON
	Phase     string  `json:"phase"`          // seed, warmup or measured
	AtSeconds float64 `json:"atSeconds"`      // answered at, from the measured phase's start (negative before it)

	at time.Duration // answered at, from the run's start (AtSeconds is set from it in the report)
}

// ReportConfig echoes the run's settings.
type ReportConfig struct {
	URL string `json:"url"`
	// URLs are the bridges sessions were spread over round-robin, when
	// there were several (URL is the first).
	URLs        []string        `json:"urls,omitempty"`
	Model       string          `json:"model"` // "open" or "closed"
	Sessions    int             `json:"sessions"`
	Rate        float64         `json:"rate,omitempty"`
	InFlight    int             `json:"inflight,omitempty"`
	MaxInFlight int             `json:"maxInflight,omitempty"`
	Duration    string          `json:"duration"`
	Warmup      string          `json:"warmup"`
	Mix         string          `json:"mix"`
	Faults      json.RawMessage `json:"faults,omitempty"`
	Echo        bool            `json:"echo,omitempty"`
}

func reportConfig(c Config) ReportConfig {
	rc := ReportConfig{URL: c.URL, URLs: c.URLs, Sessions: c.Sessions, Duration: c.Duration.String(), Warmup: c.Warmup.String(), Mix: c.Mix.String(), Echo: c.Echo}
	if len(c.URLs) < 2 {
		rc.URLs = nil
	}
	if json.Valid(c.Faults) {
		rc.Faults = c.Faults
	}
	if c.Closed {
		rc.Model, rc.InFlight = "closed", c.InFlight
	} else {
		rc.Model, rc.Rate, rc.MaxInFlight = "open", c.Rate, c.MaxInFlight
	}
	return rc
}

// Environment describes the machine the generator ran on.
type Environment struct {
	GoVersion  string `json:"goVersion"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	NumCPU     int    `json:"numCPU"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpuModel,omitempty"`
	Hostname   string `json:"hostname,omitempty"`
}

func environment() Environment {
	e := Environment{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	e.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return e
}

// Latency summarises a histogram, in microseconds.
type Latency struct {
	Count int64   `json:"count"`
	Min   int64   `json:"min"`
	P50   int64   `json:"p50"`
	P90   int64   `json:"p90"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p999"`
	Max   int64   `json:"max"`
	Mean  float64 `json:"mean"`
}

func latencyOf(h *hdr.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{Count: h.TotalCount(), Min: h.Min(), P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90),
		P99: h.ValueAtQuantile(99), P999: h.ValueAtQuantile(99.9), Max: h.Max(), Mean: h.Mean()}
}

// MethodReport is one method in the measured phase.
type MethodReport struct {
	methodCounts
	LatencyUs Latency `json:"latencyUs"`
}

// LateReport counts bridge.late notifications (answers that came after the
// CIF timeout), over every phase.
type LateReport struct {
	Answers int64 `json:"answers"`
	Success int64 `json:"success"`
	Failure int64 `json:"failure"`
	// CreateSuccess counts cif.createrecord calls answered -32000 whose
	// record was created after all.
	CreateSuccess int64 `json:"createSuccess"`
	// Retried counts the late answers of the retry engine's attempts
	// (enreach.xrm.* calls): the widget got no -32000 for them.
	Retried int64 `json:"retried"`
	// ByMethod counts by the attempt's backend method, as bridge.late names
	// it (an enreach.xrm.createRecord attempt is a cif.createrecord).
	ByMethod map[string]int64 `json:"byMethod,omitempty"`
}

// Duplicates are the duplicate creates the client learned of, over every
// phase, in records unless said otherwise.
type Duplicates struct {
	// Suspected counts create attempts whose outcome the widget could not
	// learn when answered, each a record that may exist without the widget
	// holding its id: every cif.createrecord answered -32000, and every
	// attempt of an enreach.xrm create (createRecord, execute CRUD Create)
	// that the ledger entry shows timed out or left open (timeout,
	// late-success, late-failure, expired, unknown); 1 for an entry whose
	// attempts the client never saw.
	Suspected int64 `json:"suspected"`
	// Confirmed counts records proven to exist although no successful
	// answer handed their id to the widget: every cif.createrecord whose
	// bridge.late says success, and for every ledger entry its recordIds
	// less the one the widget's successful answer holds (an entry
	// "confirmed" with n records adds n−1; the records of a create answered
	// with -32005 all count, as for a cif.createrecord timeout).
	Confirmed int64 `json:"confirmed"`
	// Flagged counts enreach.xrm creates (not records) answered with
	// possibleDuplicate:true or with a -32005 that names a ledger entry.
	Flagged int64 `json:"flagged"`
	// Ledger counts the duplicate-ledger entries the client heard of (in
	// answers or bridge.ledger) by their newest status; an entry never
	// pushed is counted "suspected", as it was when answered.
	Ledger map[string]int64 `json:"ledger,omitempty"`
}

// GroundTruth compares the client's view with the emulator's counters
// (GET /api/v1/emulator/stats before and after the run).
type GroundTruth struct {
	Before protocol.EmulatorStats `json:"before"`
	After  protocol.EmulatorStats `json:"after"`
	// Operations is after − before per CIF messageType.
	Operations map[string]int64 `json:"operations"`
	// Records is after − before per table (only tables that changed),
	// records the emulator evicted to stay within its bound included.
	Records         map[string]int `json:"records"`
	LateCompletions int64          `json:"lateCompletions"`
	// OKCreates and OKDeletes are the successful create (cif.createrecord,
	// enreach.xrm.createRecord, enreach.xrm.execute — always a CRUD Create
	// from the load tool) and delete answers the client received, every
	// phase.
	OKCreates int64 `json:"okCreates"`
	OKDeletes int64 `json:"okDeletes"`
	// ExtraRecords = Σ Records + OKDeletes − OKCreates: records that exist
	// although no successful answer handed their id to the widget (a
	// timed-out create that landed late, a retry's duplicate).
	ExtraRecords int64 `json:"extraRecords"`
	// Match says whether ExtraRecords == Duplicates.Confirmed and
	// LateCompletions == Late.Answers.
	ExtraMatchesConfirmed bool `json:"extraMatchesConfirmed"`
	LateMatches           bool `json:"lateMatches"`
}

func groundTruth(before, after protocol.EmulatorStats, totals map[string]*methodCounts, rep *Report) *GroundTruth {
	g := &GroundTruth{Before: before, After: after, Operations: map[string]int64{}, Records: map[string]int{}}
	for k, v := range after.Operations {
		if d := v - before.Operations[k]; d != 0 {
			g.Operations[k] = d
		}
	}
	var dr int64
	for k, t := range after.Tables {
		b := before.Tables[k]
		if d := t.Records - b.Records + int(t.Evicted-b.Evicted); d != 0 {
			g.Records[k] = d
			dr += int64(d)
		}
	}
	g.LateCompletions = after.LateCompletions - before.LateCompletions
	for _, m := range []string{protocol.MethodCreateRecord, protocol.MethodXrmCreateRecord, protocol.MethodXrmExecute} {
		if c := totals[m]; c != nil {
			g.OKCreates += c.OK
		}
	}
	if c := totals[protocol.MethodDeleteRecord]; c != nil {
		g.OKDeletes = c.OK
	}
	g.ExtraRecords = dr + g.OKDeletes - g.OKCreates
	g.ExtraMatchesConfirmed = g.ExtraRecords == rep.Duplicates.Confirmed
	g.LateMatches = g.LateCompletions == rep.Late.Answers
	return g
}

// ClientUsage is the generator's own resource use, so that a saturated
// generator is visible.
type ClientUsage struct {
	CPUUserSeconds float64 `json:"cpuUserSeconds"`
	CPUSysSeconds  float64 `json:"cpuSysSeconds"`
	CPUPercent     float64 `json:"cpuPercent"` // of one core, over the whole run
	MaxRSSKiB      int64   `json:"maxRSSKiB"`
	RSSKiB         int64   `json:"rssKiB"`
	// The client process's garbage collector over the run: cycles, and the
	// CPU it took (runtime/metrics /cpu/classes/gc/total, an estimate).
	GCCycles     uint64  `json:"gcCycles"`
	GCCPUSeconds float64 `json:"gcCpuSeconds"`
}

// usage is what the process has used so far: rusage and GC.
type usage struct {
	ru       syscall.Rusage
	gcCycles uint64
	gcCPU    float64
}

func rusage() usage {
	var u usage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u.ru)
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		u.gcCycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		u.gcCPU = s[1].Value.Float64()
	}
	return u
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func clientUsage(ua, ub usage, wall time.Duration) ClientUsage {
	a, b := ua.ru, ub.ru
	u := ClientUsage{CPUUserSeconds: tv(b.Utime) - tv(a.Utime), CPUSysSeconds: tv(b.Stime) - tv(a.Stime), MaxRSSKiB: b.Maxrss, RSSKiB: RSSKiB(os.Getpid()),
		GCCycles: ub.gcCycles - ua.gcCycles, GCCPUSeconds: ub.gcCPU - ua.gcCPU}
	if wall > 0 {
		u.CPUPercent = 100 * (u.CPUUserSeconds + u.CPUSysSeconds) / wall.Seconds()
	}
	return u
}

// RSSKiB reads a process's resident set size from /proc (0 when unknown).
func RSSKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// PercentilePoint is one point of the latency-percentile curve.
type PercentilePoint struct {
	Percentile float64 `json:"percentile"`
	ValueUs    int64   `json:"valueUs"`
}

// curvePercentiles are spaced evenly on the 1/(1−p) axis HdrHistogram plots use.
var curvePercentiles = []float64{0, 10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5,
	99, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.995, 99.999, 100}

func (r *runner) fill(rep *Report, all *hdr.Histogram, byMethod map[string]*methodStats, totals map[string]*methodCounts) {
	rep.LatencyUs = latencyOf(all)
	rep.ErrorsByCode = map[string]int64{}
	rep.Methods = map[string]MethodReport{}
	rep.Totals = totals
	for m, st := range byMethod {
		rep.Methods[m] = MethodReport{methodCounts: st.methodCounts, LatencyUs: latencyOf(st.hist)}
		rep.Sent += st.Sent
		rep.Answered += st.Answered
		rep.OK += st.OK
		rep.Timeouts += st.Timeouts
		for code, n := range st.Errors {
			rep.Errors += n
			rep.ErrorsByCode[strconv.FormatInt(code, 10)] += n
		}
	}
	d := r.cfg.Duration.Seconds()
	rep.AchievedRate = float64(rep.Answered) / d
	if r.cfg.Closed {
		rep.OfferedRate = float64(rep.Sent) / d
	} else {
		rep.OfferedRate = r.cfg.Rate
	}
	rep.Dropped = r.dropped.Load()
	rep.SendErrors = r.sendErrors.Load()
	rep.Unmatched = r.unmatched.Load()
	rep.BadFrames = r.badFrames.Load()
	rep.Events = r.events.Load()
	rep.Retries = r.retries.Load()
	r.lateMu.Lock()
	rep.Late = r.late
	rep.Duplicates = r.duplicates()
	rep.FirstErrors = slices.Clone(r.samples)
	for i := range rep.FirstErrors {
		// measureStart is known by now; a sample of the seed phase came
		// before it was set.
		rep.FirstErrors[i].AtSeconds = (rep.FirstErrors[i].at - r.measureStart).Seconds()
	}
	r.lateMu.Unlock()
	r.stats.mu.Lock()
	rep.Timeline = slices.Clone(r.stats.tl)
	r.stats.mu.Unlock()
	if all.TotalCount() > 0 {
		for _, p := range curvePercentiles {
			rep.Percentiles = append(rep.Percentiles, PercentilePoint{Percentile: p, ValueUs: all.ValueAtQuantile(p)})
		}
	}
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func fmtUs(us int64) string {
	switch {
	case us >= 1_000_000:
		return fmt.Sprintf("%.2fs", float64(us)/1e6)
	case us >= 1000:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	default:
		return fmt.Sprintf("%dµs", us)
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the human-readable summary.
func (rep *Report) WriteText(w io.Writer) {
	c := rep.Config
	e := rep.Environment
	if len(c.URLs) > 1 {
		fmt.Fprintf(w, "cifbridge load: %s (sessions round-robin), %d sessions, %s loop", strings.Join(c.URLs, ", "), c.Sessions, c.Model)
	} else {
		fmt.Fprintf(w, "cifbridge load: %s, %d sessions, %s loop", c.URL, c.Sessions, c.Model)
	}
	if c.Model == "open" {
		fmt.Fprintf(w, " at %.0f/s (in-flight cap %d/session)", c.Rate, c.MaxInFlight)
	} else {
		fmt.Fprintf(w, ", %d in flight/session", c.InFlight)
	}
	fmt.Fprintf(w, ", %s measured after %s warmup\n", c.Duration, c.Warmup)
	fmt.Fprintf(w, "machine: %s, %d CPUs, GOMAXPROCS %d, %s %s/%s\n", e.CPUModel, e.NumCPU, e.GOMAXPROCS, e.GoVersion, e.OS, e.Arch)
	fmt.Fprintf(w, "mix: %s\n", c.Mix)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "\nrate: offered %.1f/s, achieved %.1f/s (%d answered of %d sent)\n", rep.OfferedRate, rep.AchievedRate, rep.Answered, rep.Sent)
	l := rep.LatencyUs
	fmt.Fprintf(w, "latency: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s  (from the scheduled send time)\n",
		fmtUs(l.P50), fmtUs(l.P90), fmtUs(l.P99), fmtUs(l.P999), fmtUs(l.Max), fmtUs(int64(l.Mean)))
	fmt.Fprintf(w, "connect: p50 %s  p99 %s  max %s\n", fmtUs(rep.Connect.P50), fmtUs(rep.Connect.P99), fmtUs(rep.Connect.Max))
	fmt.Fprintf(w, "ok %d, errors %d, timeouts %d, dropped sends %d, send errors %d, unanswered %d, unmatched %d\n",
		rep.OK, rep.Errors, rep.Timeouts, rep.Dropped, rep.SendErrors, rep.Unanswered, rep.Unmatched)
	if len(rep.ErrorsByCode) > 0 {
		codes := make([]string, 0, len(rep.ErrorsByCode))
		for k := range rep.ErrorsByCode {
			codes = append(codes, k)
		}
		slices.Sort(codes)
		fmt.Fprint(w, "errors by code:")
		for _, k := range codes {
			fmt.Fprintf(w, " %s×%d", k, rep.ErrorsByCode[k])
		}
		fmt.Fprintln(w)
	}
	for i, e := range rep.FirstErrors {
		if i == 0 {
			fmt.Fprintln(w, "first errors:")
		}
		fmt.Fprintf(w, "  %s %d %q (%s, %+.3fs)", e.Method, e.Code, e.Message, e.Phase, e.AtSeconds)
		if e.Data != "" {
			fmt.Fprintf(w, " data %s", e.Data)
		}
		fmt.Fprintln(w)
	}
	methods := make([]string, 0, len(rep.Methods))
	for m := range rep.Methods {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	fmt.Fprintf(w, "\n%-28s %9s %9s %8s %9s %10s %10s\n", "method", "sent", "ok", "errors", "timeouts", "p50", "p99")
	for _, m := range methods {
		s := rep.Methods[m]
		fmt.Fprintf(w, "%-28s %9d %9d %8d %9d %10s %10s\n", m, s.Sent, s.OK, s.Answered-s.OK, s.Timeouts, fmtUs(s.LatencyUs.P50), fmtUs(s.LatencyUs.P99))
	}
	fmt.Fprintf(w, "\nlate answers (bridge.late): %d (success %d, failure %d; of retried calls' attempts %d; cif.createrecord that landed after its timeout %d)\n",
		rep.Late.Answers, rep.Late.Success, rep.Late.Failure, rep.Late.Retried, rep.Late.CreateSuccess)
	d := rep.Duplicates
	fmt.Fprintf(w, "retries: %d; duplicates: suspected %d, confirmed %d (records); creates flagged possibleDuplicate %d", rep.Retries, d.Suspected, d.Confirmed, d.Flagged)
	if len(d.Ledger) > 0 {
		fmt.Fprintf(w, "; ledger entries: %s", counts(d.Ledger))
	}
	fmt.Fprintln(w)
	if g := rep.GroundTruth; g != nil {
		fmt.Fprintf(w, "ground truth (emulator, every phase): late completions %d, extra records %d\n", g.LateCompletions, g.ExtraRecords)
		fmt.Fprintf(w, "  operations: %s\n  records added: %s\n", counts(g.Operations), counts(g.Records))
		fmt.Fprintf(w, "  late completions %s late answers; extra records %s confirmed duplicates\n", eq(g.LateMatches), eq(g.ExtraMatchesConfirmed))
	}
	cu := rep.Client
	fmt.Fprintf(w, "client: cpu user %.2fs sys %.2fs (%.0f%% of a core), rss %d KiB (max %d KiB), gc %d cycles (%.2fs cpu)\n",
		cu.CPUUserSeconds, cu.CPUSysSeconds, cu.CPUPercent, cu.RSSKiB, cu.MaxRSSKiB, cu.GCCycles, cu.GCCPUSeconds)
}

// counts writes a count per name as "a 3, b 12" (sorted by name; "none"
// when empty): text for people, not Go's map syntax.
func counts[V int | int64](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, m[k])
	}
	return b.String()
}

func eq(ok bool) string {
	if ok {
		return "=="
	}
	return "!="
}
