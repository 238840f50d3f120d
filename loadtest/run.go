package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// xrmPrefix is the prefix of the retry engine's methods.
const xrmPrefix = "enreach.xrm."

// runner is the state of one Run.
type runner struct {
	cfg    Config
	ctx    context.Context // ends at MaxDuration
	start  time.Time
	stats  *stats
	shared *idPool
	pool   int // per-session id pool size (poolSize)
	picker picker

	// Phase boundaries since start, set before sending begins.
	measureStart, end time.Duration
	sending           atomic.Bool

	dropped, sendErrors, badFrames, unmatched, events atomic.Int64
	retries                                           atomic.Int64

	// lateMu guards the notification and duplicate counters.
	lateMu sync.Mutex
	late   LateReport
	// cifCreateTimeouts counts cif.createrecord calls answered -32000: each
	// may have left a record the widget holds no id for.
	cifCreateTimeouts int64
	// ledger is every duplicate-ledger entry the client heard of, by id.
	ledger map[string]*ledgerState

	// samples are the first error answers (errorSample), under lateMu.
	samples []ErrorSample

	// hello: each session asks the bridge its id, so that the run can ask
	// the bridge how many late answers its sessions still have coming
	// (set when the bridge's admin API answers).
	hello bool
}

func (r *runner) since() time.Duration { return time.Since(r.start) }

func (r *runner) phaseAt(t time.Duration) phase {
	if t < r.measureStart {
		return phaseWarmup
	}
	return phaseMeasured
}

// ledgerState is what the client knows of one duplicate-ledger entry: the
// newest bridge.ledger notification and the widget's answer naming it.
type ledgerState struct {
	entry *protocol.LedgerEntry // newest notification (highest version); nil before the first
	// Set by the answer that named the entry (result ledgerId, or -32005
	// data.ledgerId):
	ok      bool // a success: the widget holds one of RecordIDs
	flagged bool // possibleDuplicate:true, or a -32005
}

// settled reports whether no attempt of the entry still awaits its late
// answer. The retry engine pushes the entry with every late outcome, so the
// last notification of an entry always shows it settled.
func (l *ledgerState) settled() bool {
	return l.entry != nil && !slices.ContainsFunc(l.entry.Attempts, func(a protocol.LedgerAttempt) bool { return a.Outcome == protocol.LedgerOutcomeTimeout })
}

// openAttempt reports whether an attempt's outcome was unknown to the
// widget when it was answered: it may have created a record.
func openAttempt(a protocol.LedgerAttempt) bool {
	switch a.Outcome {
	case protocol.LedgerOutcomeTimeout, protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeLateFailure, protocol.LedgerOutcomeExpired, protocol.LedgerOutcomeUnknown:
		return true
	}
	return false
}

func (r *runner) ledgerEntry(id string) *ledgerState {
	if r.ledger == nil {
		r.ledger = map[string]*ledgerState{}
	}
	l := r.ledger[id]
	if l == nil {
		l = &ledgerState{}
		r.ledger[id] = l
	}
	return l
}

// answeredWithLedger records an enreach.xrm create answer that names a
// ledger entry.
func (r *runner) answeredWithLedger(id string, ok, flagged bool) {
	r.lateMu.Lock()
	l := r.ledgerEntry(id)
	l.ok, l.flagged = ok, flagged
	r.lateMu.Unlock()
}

// notification handles bridge.late and bridge.ledger arriving on s.
func (r *runner) notification(s *session, method string, params json.RawMessage) {
	switch method {
	case protocol.NotifyLate:
		var p protocol.LateParams
		if json.Unmarshal(params, &p) != nil {
			r.badFrames.Add(1)
			return
		}
		// bridge.late names the backend attempt's method (an enreach.xrm
		// create's attempts are cif.createrecord too): the widget's own
		// method, found by request id, tells a raw CIF call from an attempt
		// of the retry engine.
		widgetMethod := s.lateCall(p.RequestID)
		engine := widgetMethod == "" || strings.HasPrefix(widgetMethod, xrmPrefix)
		r.lateMu.Lock()
		r.late.Answers++
		if r.late.ByMethod == nil {
			r.late.ByMethod = map[string]int64{}
		}
		r.late.ByMethod[p.Method]++
		if engine {
			r.late.Retried++
		}
		if p.Outcome == protocol.OutcomeSuccess {
			r.late.Success++
			if !engine && widgetMethod == protocol.MethodCreateRecord {
				// CIF forgot this create, yet the record exists: a caller
				// that retries (as every CIF widget must) duplicates it.
				r.late.CreateSuccess++
			}
		} else {
			r.late.Failure++
		}
		r.lateMu.Unlock()
	case protocol.NotifyLedger:
		var p protocol.LedgerParams
		if json.Unmarshal(params, &p) != nil || p.Entry.ID == "" {
			r.badFrames.Add(1)
			return
		}
		r.lateMu.Lock()
		l := r.ledgerEntry(p.Entry.ID)
		if l.entry == nil || p.Entry.Version >= l.entry.Version {
			l.entry = &p.Entry
		}
		r.lateMu.Unlock()
	default:
		r.events.Add(1)
	}
}

// settled reports whether every late answer the client can count on has
// arrived: one bridge.late per raw CIF call answered -32000, and every
// ledger entry pushed with no attempt left awaiting its late answer.
func (r *runner) settled(cifTimeouts int64) bool {
	r.lateMu.Lock()
	defer r.lateMu.Unlock()
	if r.late.Answers-r.late.Retried < cifTimeouts {
		return false
	}
	for _, l := range r.ledger {
		if !l.settled() {
			return false
		}
	}
	return true
}

// lateToCome asks the bridges how many bridge.late notifications its
// sessions still have coming: for each session, the backend attempts that
// became late records less those that expired (which tell nobody), less
// the notifications the client has received. Each bridge is asked for its
// own sessions (scope=local: no cluster-wide gather every 50 ms); a
// session listed twice (one bridge under two URLs) counts once.
func (r *runner) lateToCome(ctx context.Context, admins []*client.Admin, sessions []*session) (int64, error) {
	ours := make(map[string]bool, len(sessions))
	for _, s := range sessions {
		ours[s.id] = true
	}
	var awaited int64
	for _, admin := range admins {
		infos, err := admin.LocalSessions(ctx)
		if err != nil {
			return 0, err
		}
		for _, in := range infos {
			if ours[in.ID] {
				ours[in.ID] = false
				awaited += in.LateCounts.Detached - in.LateCounts.Expired
			}
		}
	}
	r.lateMu.Lock()
	defer r.lateMu.Unlock()
	return awaited - r.late.Answers, nil
}

// duplicates sums the duplicate counters; lateMu is held.
func (r *runner) duplicates() Duplicates {
	d := Duplicates{
		Suspected: r.cifCreateTimeouts,
		Confirmed: r.late.CreateSuccess,
	}
	for _, l := range r.ledger {
		if l.flagged {
			d.Flagged++
		}
		status := string(protocol.LedgerSuspected) // never pushed: suspected when answered
		if l.entry != nil {
			status = string(l.entry.Status)
			for _, a := range l.entry.Attempts {
				if openAttempt(a) {
					d.Suspected++
				}
			}
			extra := int64(len(l.entry.RecordIDs))
			if l.ok {
				extra-- // the widget holds this one
			}
			d.Confirmed += max(extra, 0)
		} else {
			d.Suspected++
		}
		if d.Ledger == nil {
			d.Ledger = map[string]int64{}
		}
		d.Ledger[status]++
	}
	return d
}

// Error samples: the report keeps the first error answers in full (code,
// message, data), at most maxSamples, and at most maxSamplesPerCode of one
// code, so that a flood of -32000 under a fault profile does not hide a
// rare other code. The counts by code are in ErrorsByCode.
const (
	maxSamples        = 5
	maxSamplesPerCode = 2
	maxSampleText     = 300 // bytes kept of a message or data
)

// errorSample keeps the answer to p (an error) when the samples are not
// full yet.
func (r *runner) errorSample(p pendingCall, now time.Duration, code int64, msg string, data json.RawMessage) {
	r.lateMu.Lock()
	defer r.lateMu.Unlock()
	if len(r.samples) >= maxSamples {
		return
	}
	same := 0
	for _, x := range r.samples {
		if x.Code == code {
			same++
		}
	}
	if same >= maxSamplesPerCode {
		return
	}
	ph := "measured"
	switch p.phase {
	case phaseSeed:
		ph = "seed"
	case phaseWarmup:
		ph = "warmup"
	}
	r.samples = append(r.samples, ErrorSample{Method: p.method, Code: code, Message: clip(msg), Data: clip(string(data)),
		Phase: ph, at: now})
}

// clip cuts s to maxSampleText bytes, on a rune boundary, marking the cut.
func clip(s string) string {
	if len(s) <= maxSampleText {
		return s
	}
	cut := maxSampleText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Run drives the bridge at cfg.URL and returns the report. Errors wrapping
// ErrUsage are the caller's input (bad config, unreachable URL).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	defer cancel()
	r := &runner{cfg: cfg, ctx: ctx, start: time.Now(), shared: &idPool{}, picker: newPicker(cfg.Mix)}
	r.stats = newStats(min(cfg.Sessions, 8))
	rep := &Report{Started: r.start.UTC(), Environment: environment()}
	rep.Config = reportConfig(cfg)
	ru0 := rusage()

	var err error
	admins := make([]*client.Admin, len(cfg.URLs))
	for i, u := range cfg.URLs {
		if admins[i], err = client.NewAdmin(u, cfg.Token); err != nil {
			return nil, usagef("--url %q: %v", u, err)
		}
	}
	// The emulator (faults, ground truth) is on one bridge: with several
	// URLs (a cluster) the one whose node serves it.
	var emu *client.Admin
	var before protocol.EmulatorStats
	truth := !cfg.Echo && !cfg.NoGroundTruth
	if truth || len(cfg.Faults) > 0 {
		if emu, before, err = findEmulator(ctx, admins); err != nil {
			return nil, err
		}
		if emu == nil {
			why := "the bridge serves no emulator admin API (" + protocol.PathEmulatorStats + ")"
			if len(admins) > 1 {
				why = "none of the --url bridges serves the emulator admin API (" + protocol.PathEmulatorStats + ")"
			}
			if node := emulatorNode(ctx, admins[0]); node != "" {
				why += "; cluster node " + node + " serves the emulator: add its widget URL to --url"
			}
			if len(cfg.Faults) > 0 {
				return nil, usagef("--faults: %s", why)
			}
			truth = false
			rep.Notes = append(rep.Notes, "no ground truth: "+why)
		} else if len(admins) > 1 {
			rep.Notes = append(rep.Notes, "ground truth and faults: the emulator served at "+emu.Base)
		}
	}
	if len(cfg.Faults) > 0 {
		if err := emu.PutFaults(ctx, cfg.Faults); err != nil {
			return nil, reachErr("install the fault profile", err)
		}
		if truth {
			if before, err = emu.EmulatorStats(ctx); err != nil {
				return nil, reachErr("read the emulator stats", err)
			}
		}
	}
	// With the bridges' admin API at hand, the run can wait for exactly the
	// late answers its sessions have coming (lateToCome).
	if !cfg.Echo {
		r.hello = true
		for _, a := range admins {
			if _, err := a.Status(ctx); err != nil {
				r.hello = false
			}
		}
	}
	// Every pool's ids age (createClock), the run's seed contacts too: the
	// emulator created them at run time like any other, so its bound evicts
	// them too once no session happened to name one for a while.
	r.shared.clock, r.shared.aging = newCreateClock(before.MaxRecords), true
	if r.pool = poolSize(before.MaxRecords, cfg.Sessions); r.pool < poolCap {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the emulator keeps at most %d records: each session picks ids among its last %d creates", before.MaxRecords, r.pool))
	}

	sessions, connect, err := dialAll(r)
	if err != nil {
		return nil, err
	}
	rep.Connect = latencyOf(connect)
	defer closeAll(sessions)

	if !cfg.Echo && cfg.SeedRecords > 0 {
		s := sessions[0]
		for range cfg.SeedRecords {
			if !s.send(protocol.MethodCreateRecord, r.since(), phaseSeed, 0) {
				break
			}
			for s.inflight() > 0 && ctx.Err() == nil {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}

	loadStart := r.since()
	r.measureStart = loadStart + cfg.Warmup
	r.end = r.measureStart + cfg.Duration
	r.sending.Store(true)
	stopProgress := r.progress(loadStart)

	var wg sync.WaitGroup
	if cfg.Closed {
		for _, s := range sessions {
			wg.Go(func() {
				for range cfg.InFlight {
					t := r.since()
					if !s.send("", t, r.phaseAt(t), 0) {
						return
					}
				}
			})
		}
	} else {
		// Open loop: rate/sessions calls per second per session at fixed
		// times, staggered across sessions, released by one pacer.
		interval := time.Duration(float64(time.Second) * float64(cfg.Sessions) / cfg.Rate)
		paced := make([]*pacedSession, len(sessions))
		stop := make(chan struct{})
		for i, s := range sessions {
			paced[i] = &pacedSession{wake: make(chan struct{}, 1)}
			wg.Go(func() { r.sendPaced(s, paced[i], loadStart, interval, stop) })
		}
		wg.Go(func() { r.pace(paced, loadStart, interval, stop) })
	}
	select {
	case <-time.After(time.Until(r.start.Add(r.end))):
	case <-ctx.Done():
	}
	r.sending.Store(false)
	wg.Wait()
	rep.Duration = seconds(cfg.Duration)

	// Drain: every outstanding call gets its answer (or the CIF timeout).
	drainUntil := time.Now().Add(cfg.Drain)
	for totalInflight(sessions) > 0 && time.Now().Before(drainUntil) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	stopProgress()
	rep.Unanswered = int64(totalInflight(sessions))
	if rep.Unanswered > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d calls were still unanswered after --drain %v: their outcomes (records, late answers) are not in the counts, so the ground-truth comparisons may not hold; raise --drain", rep.Unanswered, cfg.Drain))
	}

	all, byMethod, totals := r.stats.merged()
	var timeouts int64 // of raw CIF calls: the retry engine's own are not the widget's
	for m, c := range totals {
		if !strings.HasPrefix(m, xrmPrefix) {
			timeouts += c.Timeouts
		}
	}
	// Late answers: wait until every timed-out CIF call's bridge.late and
	// every ledger entry's last late outcome arrived.
	lateUntil := time.Now().Add(cfg.LateWait)
	var toCome int64 // late answers the bridge says are still to come
	var asked time.Time
	bridgeSettled := func() bool { // asked at most every 50 ms
		if time.Since(asked) < 50*time.Millisecond {
			return false
		}
		asked = time.Now()
		n, err := r.lateToCome(ctx, admins, sessions)
		if err != nil {
			return false
		}
		toCome = n
		return n <= 0
	}
	for time.Now().Before(lateUntil) && ctx.Err() == nil {
		if r.settled(timeouts) && (!r.hello || bridgeSettled()) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if toCome > 0 && ctx.Err() == nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("stopped waiting for late answers after --late-wait %v: the bridge says %d more are to come", cfg.LateWait, toCome))
	}
	if ctx.Err() != nil {
		rep.Truncated = true
		rep.Notes = append(rep.Notes, fmt.Sprintf("stopped by --max-duration %v", cfg.MaxDuration))
	}

	r.fill(rep, all, byMethod, totals)
	if truth {
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
		after, err := emu.EmulatorStats(actx)
		acancel()
		if err != nil {
			rep.Notes = append(rep.Notes, "no ground truth after the run: "+err.Error())
		} else {
			rep.GroundTruth = groundTruth(before, after, totals, rep)
		}
	}
	ru1 := rusage()
	rep.Client = clientUsage(ru0, ru1, time.Since(r.start))
	return rep, nil
}

// findEmulator returns the first of admins whose bridge serves the
// emulator's admin API, with its stats; nil when none does.
func findEmulator(ctx context.Context, admins []*client.Admin) (*client.Admin, protocol.EmulatorStats, error) {
	for _, a := range admins {
		st, err := a.EmulatorStats(ctx)
		switch {
		case errors.Is(err, client.ErrNotServed):
			continue
		case errors.Is(err, protocol.ErrUnauthorized):
			// A widget token opens /v1/widget only.
			return nil, st, fmt.Errorf("%w: the bridge at %s refused the token for its admin API: load reads the emulator's ground truth there, so give it the admin token (--token, CIFBRIDGE_LOAD_TOKEN), which opens /v1/widget too", ErrUsage, a.Base)
		case err != nil:
			return nil, st, reachErr("read the emulator stats at "+a.Base, err)
		}
		return a, st, nil
	}
	return nil, protocol.EmulatorStats{}, nil
}

// emulatorNode names the cluster node that serves the emulator, as a's
// status lists the nodes ("" on a single node, or when none does).
func emulatorNode(ctx context.Context, a *client.Admin) string {
	st, err := a.Status(ctx)
	if err != nil || st.Cluster == nil {
		return ""
	}
	for _, n := range st.Cluster.Nodes {
		if n.Backend == "emulator" {
			return n.Node
		}
	}
	return ""
}

// reachErr turns a connection failure into a usage error (the URL is wrong
// or nothing listens there).
func reachErr(what string, err error) error {
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: cannot reach the bridge to %s: %v", ErrUsage, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// dialAll opens every session, 32 dials at a time.
func dialAll(r *runner) ([]*session, *hdr.Histogram, error) {
	n := r.cfg.Sessions
	sessions := make([]*session, n)
	connect := newHist()
	var mu sync.Mutex
	var firstErr error
	var firstURL string // the URL firstErr came from
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
			defer cancel()
			s, connected, err := dialSession(dctx, r, i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr, firstURL = err, r.cfg.URLs[i%len(r.cfg.URLs)]
				}
				return
			}
			recordUs(connect, connected)
			sessions[i] = s
		})
	}
	wg.Wait()
	if firstErr != nil {
		var opened []*session
		for _, s := range sessions {
			if s != nil {
				opened = append(opened, s)
			}
		}
		closeAll(opened)
		var oe *net.OpError
		if errors.As(firstErr, &oe) || errors.Is(firstErr, syscall.ECONNREFUSED) || errors.Is(firstErr, context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("%w: cannot reach %s: %v", ErrUsage, firstURL, firstErr)
		}
		return nil, nil, fmt.Errorf("dial %s: %w", firstURL, firstErr)
	}
	return sessions, connect, nil
}

func closeAll(sessions []*session) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, s := range sessions {
		sem <- struct{}{}
		wg.Go(func() { defer func() { <-sem }(); s.close() })
	}
	wg.Wait()
}

func totalInflight(sessions []*session) int {
	n := 0
	for _, s := range sessions {
		n += s.inflight()
	}
	return n
}

// progress prints a line per second until the returned stop is called.
func (r *runner) progress(loadStart time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		last := loadStart
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			now := r.since()
			p := r.stats.tick(now-r.measureStart, now-last, last >= r.measureStart)
			last = now
			if r.cfg.Progress == nil {
				continue
			}
			so := r.stats.soFar()
			var errs, tos int64
			for _, sh := range r.stats.shards {
				sh.mu.Lock()
				for _, m := range sh.byMethod {
					errs += m.Answered - m.OK
					tos += m.Timeouts
				}
				sh.mu.Unlock()
			}
			phase := "load"
			if now < r.measureStart {
				phase = "warmup"
			} else if now > r.end {
				phase = "drain"
			}
			line := fmt.Sprintf("%5.0fs %-6s rate %8.0f/s  p50 %s  p99 %s  (so far)  errors %d  timeouts %d  dropped %d",
				(now - loadStart).Seconds(), phase, p.Rate, fmtUs(so.ValueAtQuantile(50)), fmtUs(so.ValueAtQuantile(99)),
				errs, tos, r.dropped.Load())
			if r.cfg.ProgressTTY {
				fmt.Fprintf(r.cfg.Progress, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(r.cfg.Progress, line)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		if r.cfg.Progress != nil && r.cfg.ProgressTTY {
			fmt.Fprintln(r.cfg.Progress)
		}
	}
}
