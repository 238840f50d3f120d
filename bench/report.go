package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/cifbridge/cifbridge/loadtest"
)

// Results is everything the suite measured: each repetition's raw figures
// (Runs) and their summary (median, min, max of every figure).
type Results struct {
	Environment map[string]any `json:"environment"`
	Reps        int            `json:"reps"`
	Summary     Summary        `json:"summary"`
	Runs        []Rep          `json:"runs"`
	Targets     []string       `json:"targets"`
}

// Rep is one repetition: fresh servers, every measurement once.
type Rep struct {
	Points   []Point         `json:"closedLoop"`
	HalfRate *HalfRate       `json:"halfMaxRate,omitempty"`
	Idle     []IdleRSS       `json:"idleRSS,omitempty"`
	Timeouts []TimeoutFiring `json:"timeoutFirings,omitempty"`
}

// Stat is one figure over the repetitions.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func statOf(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Summary is the figures over all repetitions. Ratios are taken within one
// repetition (bridge and echo measured back to back on the same machine
// state), then summarized: the median ratio, not the ratio of medians.
type Summary struct {
	ClosedLoop []PointSummary   `json:"closedLoop"`
	HalfRate   *HalfSummary     `json:"halfMaxRate,omitempty"`
	Idle       []IdleSummary    `json:"idleRSS,omitempty"`
	Timeouts   []TimeoutSummary `json:"timeoutFirings,omitempty"`
}

// PointSummary is one session count of the closed loop.
type PointSummary struct {
	Sessions         int   `json:"sessions"`
	BridgeRate       Stat  `json:"bridgeRate"`
	EchoRate         Stat  `json:"echoRate"`
	Ratio            Stat  `json:"ratio"`
	BridgeP99Ms      Stat  `json:"bridgeP99Ms"`
	EchoP99Ms        Stat  `json:"echoP99Ms"`
	BridgeCPUPer100k Stat  `json:"bridgeCpuSecondsPer100k"`
	EchoCPUPer100k   Stat  `json:"echoCpuSecondsPer100k"`
	CPURatio         Stat  `json:"cpuRatio"`
	BridgeInstr      *Stat `json:"bridgeInstructionsPerCall,omitempty"`
	EchoInstr        *Stat `json:"echoInstructionsPerCall,omitempty"`
	BridgeErrors     int64 `json:"bridgeErrors"` // over all repetitions
	// BridgeFirstErrors are the first few in full, over the repetitions.
	BridgeFirstErrors []loadtest.ErrorSample `json:"bridgeFirstErrors,omitempty"`
}

// HalfSummary is the open loop at half the 64-session maximum.
type HalfSummary struct {
	Rate       Stat  `json:"rate"`
	Achieved   Stat  `json:"achieved"`
	P50Ms      Stat  `json:"p50Ms"`
	P99Ms      Stat  `json:"p99Ms"`
	P999Ms     Stat  `json:"p999Ms"`
	EchoP99Ms  Stat  `json:"echoP99Ms"`
	EchoP999Ms Stat  `json:"echoP999Ms"`
	Errors     int64 `json:"errors"`
	Dropped    int64 `json:"dropped"`
	// ErrorsByCode sums the bridge's error answers by code over the
	// repetitions.
	ErrorsByCode map[string]int64 `json:"errorsByCode,omitempty"`
	// FirstErrors are the first few in full, over the repetitions.
	FirstErrors []loadtest.ErrorSample `json:"firstErrors,omitempty"`
	// The suite's own process during the bridge's and the echo's runs.
	ClientCPUPct       Stat `json:"clientCpuPercent"`
	ClientGCCycles     Stat `json:"clientGcCycles"`
	EchoClientCPUPct   Stat `json:"echoClientCpuPercent"`
	EchoClientGCCycles Stat `json:"echoClientGcCycles"`
	// Server CPU-seconds per 100 000 calls in the open loop; the ratio is
	// taken within each repetition. Absent (N 0) in runs made before the
	// suite measured them.
	BridgeCPUPer100k Stat `json:"bridgeCpuSecondsPer100k"`
	EchoCPUPer100k   Stat `json:"echoCpuSecondsPer100k"`
	CPURatio         Stat `json:"cpuRatio"`
}

// IdleSummary is the RSS per idle session at one session count.
type IdleSummary struct {
	Sessions  int  `json:"sessions"`
	BridgeKiB Stat `json:"bridgeKiB"`
	EchoKiB   Stat `json:"echoKiB"`
	Ratio     Stat `json:"ratio"`
	// Goroutines is the bridge's goroutines per idle session (N 0: not read).
	Goroutines Stat   `json:"goroutinesPerSession"`
	Skipped    string `json:"skipped,omitempty"`
}

// TimeoutSummary is how late the CIF timeout fired at one in-flight count,
// and how late the raw echo answered after the same delay.
type TimeoutSummary struct {
	InFlight       int    `json:"inflight"`
	Sessions       int    `json:"sessions,omitempty"`
	TimeoutMs      int64  `json:"timeoutMs"`
	BridgeFlags    string `json:"bridgeFlags,omitempty"`
	BridgeInFlight Stat   `json:"bridgeInFlight"`
	LateP50Ms      Stat   `json:"lateP50Ms"`
	LateP99Ms      Stat   `json:"lateP99Ms"`
	LateMaxMs      Stat   `json:"lateMaxMs"`
	Missing        int    `json:"missing"` // attempts without a -32000, over all repetitions
	EchoLateP50Ms  Stat   `json:"echoLateP50Ms"`
	EchoLateP99Ms  Stat   `json:"echoLateP99Ms"`
	EchoLateMaxMs  Stat   `json:"echoLateMaxMs"`
	// Late from the bridge's own deadlines, and the frames' read delay.
	DeadlineLateP50Ms Stat `json:"deadlineLateP50Ms"`
	DeadlineLateP99Ms Stat `json:"deadlineLateP99Ms"`
	DeadlineLateMaxMs Stat `json:"deadlineLateMaxMs"`
	ReadDelayP99Ms    Stat `json:"readDelayP99Ms"`
	ReadDelayMaxMs    Stat `json:"readDelayMaxMs"`
}

func ms(us int64) float64 { return float64(us) / 1000 }

func summarize(runs []Rep) Summary {
	var s Summary
	// Closed loop, by session count in the order of the first run.
	if len(runs) > 0 {
		for _, p0 := range runs[0].Points {
			n := p0.Sessions
			var br, er, ra, bp, ep, bc, ec, cr, bi, ei []float64
			var errs int64
			var first []loadtest.ErrorSample
			for _, r := range runs {
				for _, p := range r.Points {
					if p.Sessions != n {
						continue
					}
					br, er, ra = append(br, p.BridgeRate), append(er, p.EchoRate), append(ra, p.Ratio)
					bp, ep = append(bp, ms(p.BridgeP99Us)), append(ep, ms(p.EchoP99Us))
					bc, ec, cr = append(bc, p.BridgeCPUPer100k), append(ec, p.EchoCPUPer100k), append(cr, p.CPURatio)
					if p.BridgeInstrPerCall > 0 && p.EchoInstrPerCall > 0 {
						bi, ei = append(bi, p.BridgeInstrPerCall), append(ei, p.EchoInstrPerCall)
					}
					errs += p.BridgeErrors
					first = firstFew(first, p.BridgeFirstErrors)
				}
			}
			ps := PointSummary{Sessions: n, BridgeRate: statOf(br), EchoRate: statOf(er), Ratio: statOf(ra),
				BridgeP99Ms: statOf(bp), EchoP99Ms: statOf(ep), BridgeCPUPer100k: statOf(bc), EchoCPUPer100k: statOf(ec),
				CPURatio: statOf(cr), BridgeErrors: errs, BridgeFirstErrors: first}
			if len(bi) > 0 {
				b, e := statOf(bi), statOf(ei)
				ps.BridgeInstr, ps.EchoInstr = &b, &e
			}
			s.ClosedLoop = append(s.ClosedLoop, ps)
		}
	}
	var rate, ach, p50, p99, p999, e99, e999, ccpu, cgc, eccpu, ecgc, bc, ec, cr []float64
	var hs HalfSummary
	for _, r := range runs {
		if h := r.HalfRate; h != nil {
			rate, ach = append(rate, h.Rate), append(ach, h.Achieved)
			p50, p99, p999 = append(p50, ms(h.P50Us)), append(p99, ms(h.P99Us)), append(p999, ms(h.P999Us))
			e99, e999 = append(e99, ms(h.EchoP99Us)), append(e999, ms(h.EchoP999Us))
			hs.Errors += h.Errors
			hs.Dropped += h.Dropped
			hs.FirstErrors = firstFew(hs.FirstErrors, h.FirstErrors)
			ccpu, cgc = append(ccpu, h.ClientCPUPct), append(cgc, float64(h.ClientGCCycles))
			eccpu, ecgc = append(eccpu, h.EchoClientCPUPct), append(ecgc, float64(h.EchoClientGCCycles))
			if h.BridgeCPUPer100k > 0 && h.EchoCPUPer100k > 0 {
				bc, ec = append(bc, h.BridgeCPUPer100k), append(ec, h.EchoCPUPer100k)
				cr = append(cr, h.BridgeCPUPer100k/h.EchoCPUPer100k)
			}
			for code, n := range h.ErrorsByCode {
				if hs.ErrorsByCode == nil {
					hs.ErrorsByCode = map[string]int64{}
				}
				hs.ErrorsByCode[code] += n
			}
		}
	}
	if len(rate) > 0 {
		hs.Rate, hs.Achieved, hs.P50Ms, hs.P99Ms, hs.P999Ms = statOf(rate), statOf(ach), statOf(p50), statOf(p99), statOf(p999)
		hs.EchoP99Ms, hs.EchoP999Ms = statOf(e99), statOf(e999)
		hs.ClientCPUPct, hs.ClientGCCycles, hs.EchoClientCPUPct, hs.EchoClientGCCycles = statOf(ccpu), statOf(cgc), statOf(eccpu), statOf(ecgc)
		hs.BridgeCPUPer100k, hs.EchoCPUPer100k, hs.CPURatio = statOf(bc), statOf(ec), statOf(cr)
		s.HalfRate = &hs
	}
	// Idle: by session count, bridge and echo of the same repetition paired.
	var counts []int
	for _, r := range runs {
		for _, i := range r.Idle {
			if !slices.Contains(counts, i.Sessions) {
				counts = append(counts, i.Sessions)
			}
		}
	}
	for _, n := range counts {
		is := IdleSummary{Sessions: n}
		var bk, ek, ra, gs []float64
		for _, r := range runs {
			var b, e *IdleRSS
			for k := range r.Idle {
				i := &r.Idle[k]
				if i.Sessions != n {
					continue
				}
				if i.Skipped != "" {
					is.Skipped = i.Skipped
					continue
				}
				if i.Server == "bridge" {
					b = i
				} else {
					e = i
				}
			}
			if b != nil {
				bk = append(bk, b.PerSessionKiB)
				if b.GoroutinesPerSession > 0 {
					gs = append(gs, b.GoroutinesPerSession)
				}
			}
			if e != nil {
				ek = append(ek, e.PerSessionKiB)
			}
			if b != nil && e != nil && e.PerSessionKiB > 0 {
				ra = append(ra, b.PerSessionKiB/e.PerSessionKiB)
			}
		}
		if len(bk) > 0 {
			is.Skipped = ""
		}
		is.BridgeKiB, is.EchoKiB, is.Ratio, is.Goroutines = statOf(bk), statOf(ek), statOf(ra), statOf(gs)
		s.Idle = append(s.Idle, is)
	}
	// Timeout firing: by in-flight count, in the order of the first run.
	var inflights []int
	for _, r := range runs {
		for _, t := range r.Timeouts {
			if !slices.Contains(inflights, t.InFlight) {
				inflights = append(inflights, t.InFlight)
			}
		}
	}
	for _, n := range inflights {
		var inf, l50, l99, lmax, e50, e99, emax, d50, d99, dmax, r99, rmax []float64
		ts := TimeoutSummary{InFlight: n}
		for _, r := range runs {
			for _, t := range r.Timeouts {
				if t.InFlight != n {
					continue
				}
				ts.Sessions, ts.TimeoutMs, ts.BridgeFlags = t.Sessions, t.TimeoutMs, t.BridgeFlags
				inf = append(inf, float64(t.BridgeInFlight))
				l50, l99, lmax = append(l50, t.LateP50Ms), append(l99, t.LateP99Ms), append(lmax, t.LateMaxMs)
				ts.Missing += t.InFlight - (t.Received - t.OtherErrors)
				if t.DeadlineLateP99Ms != 0 || t.DeadlineLateMaxMs != 0 {
					d50, d99, dmax = append(d50, t.DeadlineLateP50Ms), append(d99, t.DeadlineLateP99Ms), append(dmax, t.DeadlineLateMaxMs)
					r99, rmax = append(r99, t.ReadDelayP99Ms), append(rmax, t.ReadDelayMaxMs)
				}
				if t.EchoReceived > 0 {
					e50, e99, emax = append(e50, t.EchoLateP50Ms), append(e99, t.EchoLateP99Ms), append(emax, t.EchoLateMaxMs)
				}
			}
		}
		ts.BridgeInFlight, ts.LateP50Ms, ts.LateP99Ms, ts.LateMaxMs = statOf(inf), statOf(l50), statOf(l99), statOf(lmax)
		ts.EchoLateP50Ms, ts.EchoLateP99Ms, ts.EchoLateMaxMs = statOf(e50), statOf(e99), statOf(emax)
		ts.DeadlineLateP50Ms, ts.DeadlineLateP99Ms, ts.DeadlineLateMaxMs = statOf(d50), statOf(d99), statOf(dmax)
		ts.ReadDelayP99Ms, ts.ReadDelayMaxMs = statOf(r99), statOf(rmax)
		s.Timeouts = append(s.Timeouts, ts)
	}
	return s
}

// f formats a Stat as "median (min–max)" with the given number of decimals.
func (s Stat) f(dec int) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf("%.*f", dec, s.Median)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", dec, s.Median, dec, s.Min, dec, s.Max)
}

// targets are the goals of the performance work, checked on the medians.
func (r *Results) targets() []string {
	var notes []string
	for _, p := range r.Summary.ClosedLoop {
		if p.Sessions != 64 {
			continue
		}
		notes = append(notes, target("server CPU per call ≤ 1.4× raw echo's at 64 sessions", p.CPURatio.Median <= 1.4, p.CPURatio.f(2)+"×"))
		notes = append(notes, target("throughput ≥ 0.75× raw echo at 64 sessions", p.Ratio.Median >= 0.75, p.Ratio.f(2)+"×"))
	}
	if h := r.Summary.HalfRate; h != nil {
		notes = append(notes, target("p99 ≤ 2 ms open loop at half the 64-session maximum", h.P99Ms.Median <= 2, h.P99Ms.f(2)+" ms"))
	}
	for _, i := range r.Summary.Idle {
		name := fmt.Sprintf("≤ 24 KiB RSS per idle session at %d sessions", i.Sessions)
		if i.BridgeKiB.N == 0 {
			notes = append(notes, "NOT RUN "+name+": "+i.Skipped)
			continue
		}
		notes = append(notes, target(name, i.BridgeKiB.Median <= 24, i.BridgeKiB.f(1)+" KiB"))
	}
	for _, t := range r.Summary.Timeouts {
		notes = append(notes, target(fmt.Sprintf("CIF timeout lateness p99 ≤ 10 ms with %d in flight", t.InFlight),
			t.LateP99Ms.Median <= 10 && t.Missing == 0, fmt.Sprintf("%s ms, %d without their -32000", t.LateP99Ms.f(1), t.Missing)))
	}
	return notes
}

func target(name string, met bool, got string) string {
	if met {
		return "MET     " + name + ": " + got
	}
	return "MISSED  " + name + ": " + got
}

func (r *Results) print(w io.Writer) {
	e := r.Environment
	fmt.Fprintf(w, "\ncifbridge bench — %v CPUs (%v), GOMAXPROCS %v, %v; servers are subprocesses, client in this process, same cores\n",
		e["numCPU"], e["cpuModel"], e["gomaxprocs"], e["goVersion"])
	fmt.Fprintf(w, "every figure: median (min–max) of %d repetitions, fresh servers each; ratios taken within a repetition\n\n", r.Reps)
	if a, _ := e["bridgeArgs"].(string); a != "" {
		fmt.Fprintf(w, "bridge started with extra flags: %s\n\n", a)
	}
	s := r.Summary
	if len(s.ClosedLoop) > 0 {
		fmt.Fprintf(w, "closed loop, cif.createrecord, 1 in flight per session\n")
	}
	for _, p := range s.ClosedLoop {
		fmt.Fprintf(w, "%d sessions:\n", p.Sessions)
		fmt.Fprintf(w, "  round trips/s     bridge %s   echo %s   ratio %s\n", p.BridgeRate.f(0), p.EchoRate.f(0), p.Ratio.f(2))
		fmt.Fprintf(w, "  CPU-s per 100 000 bridge %s   echo %s   ratio %s\n", p.BridgeCPUPer100k.f(2), p.EchoCPUPer100k.f(2), p.CPURatio.f(2))
		fmt.Fprintf(w, "  p99 ms            bridge %s   echo %s\n", p.BridgeP99Ms.f(2), p.EchoP99Ms.f(2))
		if p.BridgeInstr != nil {
			fmt.Fprintf(w, "  instructions/call bridge %s   echo %s\n", p.BridgeInstr.f(0), p.EchoInstr.f(0))
		}
		if p.BridgeErrors > 0 {
			fmt.Fprintf(w, "  bridge errors: %d\n", p.BridgeErrors)
			writeSamples(w, p.BridgeFirstErrors)
		}
	}
	if v, _ := e["perfInstructions"].(string); v != "supported" {
		fmt.Fprintf(w, "instructions per round trip: not measured (%s)\n", v)
	}
	if h := s.HalfRate; h != nil {
		fmt.Fprintf(w, "\nopen loop at half the 64-session maximum: %s/s offered, %s/s achieved\n", h.Rate.f(0), h.Achieved.f(0))
		fmt.Fprintf(w, "  bridge p50 %s  p99 %s  p99.9 %s ms; echo p99 %s  p99.9 %s ms; bridge errors %d%s, dropped sends %d\n",
			h.P50Ms.f(2), h.P99Ms.f(2), h.P999Ms.f(2), h.EchoP99Ms.f(2), h.EchoP999Ms.f(2), h.Errors, codes(h.ErrorsByCode), h.Dropped)
		writeSamples(w, h.FirstErrors)
		fmt.Fprintf(w, "  client (this process): %% of a core bridge run %s, echo run %s; GC cycles bridge run %s, echo run %s\n",
			h.ClientCPUPct.f(0), h.EchoClientCPUPct.f(0), h.ClientGCCycles.f(0), h.EchoClientGCCycles.f(0))
		if h.CPURatio.N > 0 {
			fmt.Fprintf(w, "  server CPU-s per 100 000: bridge %s, echo %s, ratio %s\n", h.BridgeCPUPer100k.f(2), h.EchoCPUPer100k.f(2), h.CPURatio.f(2))
		}
	}
	for _, i := range s.Idle {
		if i.BridgeKiB.N == 0 {
			fmt.Fprintf(w, "\nidle RSS, %d sessions: %s\n", i.Sessions, i.Skipped)
			continue
		}
		fmt.Fprintf(w, "\nidle RSS, %d sessions: bridge %s KiB/session, echo %s, ratio %s\n", i.Sessions, i.BridgeKiB.f(1), i.EchoKiB.f(1), i.Ratio.f(2))
		if i.Goroutines.N > 0 {
			fmt.Fprintf(w, "  bridge goroutines per idle session: %s (the echo: 1 by construction)\n", i.Goroutines.f(2))
		}
	}
	for _, t := range s.Timeouts {
		fmt.Fprintf(w, "\ntimeout firing: %d attempts over %d sessions, %d ms timeout, %s in flight at the bridge before the first deadline\n",
			t.InFlight, t.Sessions, t.TimeoutMs, t.BridgeInFlight.f(0))
		if t.BridgeFlags != "" {
			fmt.Fprintf(w, "  bridge started with %s (in-flight limit per session raised for this scenario)\n", t.BridgeFlags)
		}
		fmt.Fprintf(w, "  late by  bridge p50 %s  p99 %s  max %s ms; %d without their -32000\n", t.LateP50Ms.f(1), t.LateP99Ms.f(1), t.LateMaxMs.f(1), t.Missing)
		if t.DeadlineLateP99Ms.N > 0 {
			fmt.Fprintf(w, "           of which after the bridge's deadline p50 %s  p99 %s  max %s ms; frames read after their send p99 %s  max %s ms\n",
				t.DeadlineLateP50Ms.f(1), t.DeadlineLateP99Ms.f(1), t.DeadlineLateMaxMs.f(1), t.ReadDelayP99Ms.f(1), t.ReadDelayMaxMs.f(1))
		}
		if t.EchoLateP99Ms.N > 0 {
			fmt.Fprintf(w, "           echo   p50 %s  p99 %s  max %s ms (each message echoed after the timeout by a runtime timer)\n", t.EchoLateP50Ms.f(1), t.EchoLateP99Ms.f(1), t.EchoLateMaxMs.f(1))
		}
	}
	r.Targets = r.targets()
	fmt.Fprintln(w, "\ntargets (on the medians):")
	for _, n := range r.Targets {
		fmt.Fprintln(w, "  "+n)
	}
}

// readmeTable is the README's performance table: markdown, from a run's
// results, so that the README shows the suite's output and nothing typed.
func readmeTable(r *Results) string {
	var b strings.Builder
	e := r.Environment
	fmt.Fprintf(&b, "<!-- generated by `go run ./bench --readme-table FILE` from a `go run ./bench --json FILE` run; do not edit -->\n")
	at := ""
	if c, _ := e["commit"].(string); c != "" {
		at = ", commit " + c
	}
	fmt.Fprintf(&b, "%v CPUs (%v), %v%s; median (min–max) of %d repetitions; ratios taken within a repetition.\n\n",
		e["numCPU"], e["cpuModel"], e["goVersion"], at, r.Reps)
	fmt.Fprintf(&b, "| figure | bridge | raw echo | bridge ÷ echo | target |\n| --- | --- | --- | --- | --- |\n")
	s := r.Summary
	for _, p := range s.ClosedLoop {
		tgt := ""
		ctgt := ""
		if p.Sessions == 64 {
			tgt, ctgt = "≥ 0.75", "≤ 1.4"
		}
		fmt.Fprintf(&b, "| createrecord round trips/s, %d sessions, closed loop | %s | %s | %s | %s |\n", p.Sessions, p.BridgeRate.f(0), p.EchoRate.f(0), p.Ratio.f(2), tgt)
		fmt.Fprintf(&b, "| server CPU-seconds per 100 000 round trips, %d sessions | %s | %s | %s | %s |\n", p.Sessions, p.BridgeCPUPer100k.f(2), p.EchoCPUPer100k.f(2), p.CPURatio.f(2), ctgt)
		fmt.Fprintf(&b, "| p99 ms, %d sessions, closed loop | %s | %s | | |\n", p.Sessions, p.BridgeP99Ms.f(2), p.EchoP99Ms.f(2))
		if p.BridgeInstr != nil {
			fmt.Fprintf(&b, "| instructions per round trip, %d sessions | %s | %s | | |\n", p.Sessions, p.BridgeInstr.f(0), p.EchoInstr.f(0))
		}
	}
	if h := s.HalfRate; h != nil {
		fmt.Fprintf(&b, "| p99 ms, open loop at half the 64-session maximum (median %.0f/s) | %s | %s | | ≤ 2 ms |\n", h.Rate.Median, h.P99Ms.f(2), h.EchoP99Ms.f(2))
		fmt.Fprintf(&b, "| p99.9 ms, same run | %s | %s | | |\n", h.P999Ms.f(2), h.EchoP999Ms.f(2))
		if h.CPURatio.N > 0 {
			fmt.Fprintf(&b, "| server CPU-seconds per 100 000 calls, same run | %s | %s | %s | |\n", h.BridgeCPUPer100k.f(2), h.EchoCPUPer100k.f(2), h.CPURatio.f(2))
		}
		fmt.Fprintf(&b, "| open loop: bridge errors%s and unsent calls, all repetitions | %d, %d | | | |\n", codes(h.ErrorsByCode), h.Errors, h.Dropped)
	}
	for _, i := range s.Idle {
		if i.BridgeKiB.N == 0 {
			fmt.Fprintf(&b, "| RSS KiB per idle session, %d sessions | not run | not run | | ≤ 24 KiB |\n", i.Sessions)
			continue
		}
		fmt.Fprintf(&b, "| RSS KiB per idle session, %d sessions | %s | %s | %s | ≤ 24 KiB |\n", i.Sessions, i.BridgeKiB.f(1), i.EchoKiB.f(1), i.Ratio.f(2))
		if i.Goroutines.N > 0 {
			fmt.Fprintf(&b, "| goroutines per idle session, %d sessions | %s | 1 | | 1 |\n", i.Sessions, i.Goroutines.f(2))
		}
	}
	for _, t := range s.Timeouts {
		echo := func(st Stat) string {
			if st.N == 0 {
				return "not run"
			}
			return st.f(1)
		}
		fmt.Fprintf(&b, "| CIF timeout lateness p50 ms, %d in flight | %s | %s | | |\n", t.InFlight, t.LateP50Ms.f(1), echo(t.EchoLateP50Ms))
		fmt.Fprintf(&b, "| CIF timeout lateness p99 ms, %d in flight | %s | %s | | ≤ 10 ms |\n", t.InFlight, t.LateP99Ms.f(1), echo(t.EchoLateP99Ms))
		fmt.Fprintf(&b, "| CIF timeout lateness max ms, %d in flight | %s | %s | | |\n", t.InFlight, t.LateMaxMs.f(1), echo(t.EchoLateMaxMs))
		if t.DeadlineLateP99Ms.N > 0 {
			fmt.Fprintf(&b, "| of which after the bridge's own deadline, p99 ms, %d in flight | %s | | | |\n", t.InFlight, t.DeadlineLateP99Ms.f(1))
			fmt.Fprintf(&b, "| frame read delay (bridge read − client send) p99 ms, %d in flight | %s | | | |\n", t.InFlight, t.ReadDelayP99Ms.f(1))
		}
		fmt.Fprintf(&b, "| attempts without their -32000, %d in flight, all repetitions | %d | | | 0 |\n", t.InFlight, t.Missing)
	}
	var notes []string
	if v, _ := e["perfInstructions"].(string); v != "" && v != "supported" {
		notes = append(notes, "instructions per round trip not measured: "+v)
	}
	for _, i := range s.Idle {
		if i.BridgeKiB.N == 0 && i.Skipped != "" {
			notes = append(notes, fmt.Sprintf("idle RSS at %d sessions %s", i.Sessions, i.Skipped))
		}
	}
	echoNote := false
	for _, t := range s.Timeouts {
		if t.Sessions > 0 {
			notes = append(notes, fmt.Sprintf("timeout lateness at %d in flight: %d sessions, the bridge started with %s", t.InFlight, t.Sessions, t.BridgeFlags))
		}
		echoNote = echoNote || t.EchoLateP99Ms.N > 0
	}
	if echoNote {
		notes = append(notes, "timeout lateness of the raw echo: it answers each message after the same timeout, by a runtime timer of its own")
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// codes formats errors by code as " (-32003: 12, -32000: 3)", "" when none.
func codes(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// maxFirstErrors is how many error samples a summary keeps over all
// repetitions.
const maxFirstErrors = 5

// firstFew appends the samples of one repetition to those kept so far,
// up to maxFirstErrors.
func firstFew(kept, more []loadtest.ErrorSample) []loadtest.ErrorSample {
	return append(kept, more[:min(len(more), maxFirstErrors-len(kept))]...)
}

// writeSamples prints error samples, one a line.
func writeSamples(w io.Writer, samples []loadtest.ErrorSample) {
	for _, e := range samples {
		fmt.Fprintf(w, "    %s %d %q (%s, %+.3fs)", e.Method, e.Code, e.Message, e.Phase, e.AtSeconds)
		if e.Data != "" {
			fmt.Fprintf(w, " data %s", e.Data)
		}
		fmt.Fprintln(w)
	}
}
