package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// Modes.
const (
	ModeWidget = "widget" // play the widget; the bridge's own backend answers
	ModeFull   = "full"   // also play the host peer with the captured backend answers
)

// Options configure Run. A nil *Options means widget mode, as fast as
// possible, against nothing (URL is required).
type Options struct {
	// URL is the bridge's widget endpoint, ws://HOST:PORT/v1/widget. The host
	// endpoint (full mode) and the admin API (events) are derived from it.
	URL string
	// Token is sent as a bearer token on every connection and admin call.
	Token string
	// Mode is ModeWidget ("" too) or ModeFull.
	Mode string
	// Speed scales the widget's captured think time between requests: 1 is
	// real time, 2 twice as fast, 0 as fast as causality allows (a request
	// still waits for the answers captured before it). Answer latencies
	// (the host's in full mode, the widget's event answers) are never
	// scaled: they decide timeouts.
	Speed float64
	// Rules are the comparison rules.
	Rules Rules
	// Grace is how long a captured answer may be overdue before it is
	// reported missing; it is due its captured delay after the widget's
	// request (or event answer) before it. Zero means twice the capture's
	// CIF timeout + 2 s.
	Grace time.Duration
	// Progress, when set, is told how many widget frames have been sent.
	Progress func(sent, total int)
	// HTTPClient dials the WebSockets and makes the admin calls; nil means
	// the client package's defaults. Tests set it to run a replay on
	// in-memory pipes inside a testing/synctest bubble.
	HTTPClient *http.Client
}

// Message kinds.
const (
	kindResponse    = "response"
	kindEvent       = "event"
	kindNotify      = "notification"
	kindBatch       = "batch"
	kindNullResp    = "error"
	kindBackend     = "backend"
	kindEventAnswer = "event-answer"
)

type wire struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func parseWire(b []byte) (wire, bool) {
	var w wire
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &w) != nil {
		return w, false
	}
	if string(w.ID) == "null" {
		w.ID = json.RawMessage("null")
	}
	return w, true
}

// expect is a captured bridge→widget frame the replay must produce.
type expect struct {
	f      Frame
	idx    int // index into the capture's frames
	kind   string
	method string
	// after is the frame index of the widget's last action captured before
	// this frame (-1: none) and lag how much later this frame came: it is
	// due lag after the replay performed that action.
	after  int
	lag    time.Duration
	done   bool // received (matched or diverged)
	gaveUp bool // overdue: reported missing
}

// action is a captured widget→bridge frame to re-send, or an event to raise.
type action struct {
	idx  int // index into frames
	f    Frame
	kind string // "send", "raise" or "agent"
	w    wire
}

type backendCall struct {
	out, in *Frame
	method  string
	params  json.RawMessage
	used    bool
}

type runner struct {
	c     *Capture
	opts  Options
	admin *client.Admin // the bridge's admin API (events, ledger)

	mu        sync.Mutex
	m         *matcher
	rep       *SessionReport
	expects   []*expect
	byReqID   map[string]*expect // captured request id → its captured answer
	reqMethod map[string]string  // captured request id → method
	live      map[string]string  // live id → captured id
	answers   map[string]int     // captured event id → frame index of the widget's captured answer
	answering map[int]bool       // frame indexes of event answers scheduled, not yet sent
	doneAt    map[int]time.Time  // frame index of an action → when the replay performed it
	started   time.Time          // when play began
	calls     []*backendCall
	nextID    int
	liveSess  string
	changed   chan struct{}

	ws   *client.RawConn
	host *client.RawConn
	wg   sync.WaitGroup
}

// Run replays one capture against a bridge and compares what comes back.
// The error is for a replay that could not run (dial failure); divergences
// are in the report.
func Run(ctx context.Context, c *Capture, opts *Options) (*SessionReport, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Mode == "" {
		o.Mode = ModeWidget
	}
	if o.Mode != ModeWidget && o.Mode != ModeFull {
		return nil, fmt.Errorf("unknown mode %q: use widget or full", o.Mode)
	}
	if o.Grace == 0 {
		o.Grace = 2*time.Duration(c.Header.TimeoutMs)*time.Millisecond + 2*time.Second
	}
	admin, err := client.NewAdmin(o.URL, o.Token)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	admin.HTTPClient = o.HTTPClient
	if c.Header.Source == protocol.CaptureSourcePostMessage {
		o.Rules.LooseStrings = true
	}
	r := &runner{
		c: c, opts: o, admin: admin, m: newMatcher(o.Rules),
		rep:     &SessionReport{File: c.Name(), Session: c.Header.Session, Mode: o.Mode},
		byReqID: map[string]*expect{}, reqMethod: map[string]string{}, live: map[string]string{},
		answers: map[string]int{}, answering: map[int]bool{}, doneAt: map[int]time.Time{}, changed: make(chan struct{}),
	}
	r.rep.init()
	actions, needHello := r.plan()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Mode == ModeFull {
		if err := r.dialHost(ctx); err != nil {
			return nil, err
		}
		defer r.host.CloseNow()
	}
	if err := r.dialWidget(ctx); err != nil {
		return nil, err
	}
	defer r.ws.CloseNow()
	if needHello {
		if err := r.privateHello(ctx); err != nil {
			return nil, err
		}
	}
	r.wg.Add(1)
	go r.readWidget(ctx)
	if err := r.play(ctx, actions); err != nil {
		return nil, err
	}
	r.waitAll(ctx, len(r.c.Frames))
	time.Sleep(100 * time.Millisecond) // let stragglers show up as extra
	var (
		ledgerWant, ledgerGot []LedgerState
		ledgerAt              []string
		ledgerErr             error
	)
	needLedger := c.NeedsLedger()
	if needLedger {
		r.mu.Lock()
		live := r.liveSession()
		r.mu.Unlock()
		ledgerWant, ledgerAt = capturedLedger(c)
		ledgerGot, ledgerErr = r.liveLedger(ctx, live)
	}
	r.mu.Lock()
	if needLedger {
		r.compareLedger(ledgerWant, ledgerAt, ledgerGot, ledgerErr)
	}
	for _, e := range r.expects {
		if !e.done {
			r.rep.Missing = append(r.rep.Missing, Missing{Frame: e.f.Where(), What: describe(e.kind, e.method), Want: e.f.Msg})
			e.done = true
		}
	}
	if r.opts.Mode == ModeFull {
		for _, bc := range r.calls {
			if !bc.used {
				r.rep.Missing = append(r.rep.Missing, Missing{Frame: bc.out.Where(), What: describe(kindBackend, bc.method), Want: bc.out.Msg})
			}
		}
	}
	r.rep.LiveSession = r.liveSession()
	rep := r.rep
	r.mu.Unlock()
	r.ws.Close("replay done")
	if r.host != nil {
		r.host.Close("replay done")
	}
	cancel()
	r.wg.Wait()
	return rep, nil
}

// plan splits the widget frames into actions and expectations.
func (r *runner) plan() (actions []action, needHello bool) {
	sawHello := false
	defer func() {
		a := 0
		for _, e := range r.expects {
			for a < len(actions) && actions[a].idx <= e.idx {
				a++
			}
			e.after = -1
			if a > 0 {
				e.after = actions[a-1].idx
				e.lag = e.f.T.Sub(actions[a-1].f.T)
			} else if len(r.c.Frames) > 0 {
				e.lag = e.f.T.Sub(r.c.Frames[0].T)
			}
		}
	}()
	for i := range r.c.Frames {
		f := &r.c.Frames[i]
		switch f.Peer {
		case protocol.CapturePeerBackend:
			r.planBackend(f)
			continue
		case protocol.CapturePeerHost:
			continue
		case protocol.CapturePeerAgent:
			if r.opts.Mode != ModeFull { // in full mode the replayed host answers the workspace calls
				actions = append(actions, action{idx: i, f: *f, kind: "agent"})
			}
			continue
		}
		if f.Invalid {
			if f.Dir == protocol.CaptureDirIn {
				actions = append(actions, action{idx: i, f: *f, kind: "send"})
			}
			continue
		}
		msg := bytes.TrimSpace(f.Msg)
		if msg[0] == '[' {
			if f.Dir == protocol.CaptureDirIn {
				actions = append(actions, action{idx: i, f: *f, kind: "send"})
			} else {
				r.expects = append(r.expects, &expect{f: *f, idx: i, kind: kindBatch})
			}
			continue
		}
		w, _ := parseWire(msg)
		switch {
		case f.Dir == protocol.CaptureDirIn && w.Method != "":
			if w.Method == protocol.MethodHello {
				sawHello = true
			}
			if len(w.ID) > 0 {
				r.reqMethod[string(w.ID)] = w.Method
			}
			actions = append(actions, action{idx: i, f: *f, kind: "send", w: w})
		case f.Dir == protocol.CaptureDirIn: // the widget's answer to an event
			r.answers[string(w.ID)] = i
		case w.Method != "" && len(w.ID) > 0: // event
			if !sawHello {
				needHello = true
			}
			e := &expect{f: *f, idx: i, kind: kindEvent, method: w.Method}
			r.expects = append(r.expects, e)
			if r.opts.Mode == ModeFull || !raisedByBridge(r.c, w.Method) {
				actions = append(actions, action{idx: i, f: *f, kind: "raise", w: w})
			}
		case w.Method != "":
			r.expects = append(r.expects, &expect{f: *f, idx: i, kind: kindNotify, method: w.Method})
		case string(w.ID) == "null" || len(w.ID) == 0:
			r.expects = append(r.expects, &expect{f: *f, idx: i, kind: kindNullResp})
		default:
			e := &expect{f: *f, idx: i, kind: kindResponse, method: r.reqMethod[string(w.ID)]}
			r.expects = append(r.expects, e)
			r.byReqID[string(w.ID)] = e
		}
	}
	return actions, needHello
}

func (r *runner) planBackend(f *Frame) {
	w, ok := parseWire(f.Msg)
	if !ok {
		return
	}
	if f.Dir == protocol.CaptureDirOut {
		r.calls = append(r.calls, &backendCall{out: f, method: w.Method, params: w.Params})
		return
	}
	for _, bc := range r.calls {
		if bc.in == nil {
			if ow, _ := parseWire(bc.out.Msg); string(ow.ID) == string(w.ID) {
				bc.in = f
				return
			}
		}
	}
}

func (r *runner) dialOptions() *client.Options {
	return &client.Options{Token: r.opts.Token, ReadLimit: 64 << 20, HTTPClient: r.opts.HTTPClient}
}

func (r *runner) dialWidget(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := client.DialRaw(dctx, r.opts.URL, r.dialOptions())
	if err != nil {
		return fmt.Errorf("widget: %w", err)
	}
	r.ws = ws
	return nil
}

// write sends one frame as captured (RawConn writes are safe concurrently).
func (r *runner) write(ctx context.Context, ws *client.RawConn, b []byte) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = ws.Write(wctx, b)
}

// privateHello learns the live session id (needed to raise events through
// the admin API) when the capture has no bridge.hello before its first
// event. Its answer is not compared.
func (r *runner) privateHello(ctx context.Context) error {
	r.write(ctx, r.ws, []byte(`{"jsonrpc":"2.0","id":"replay-hello","method":"bridge.hello","params":{}}`))
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		b, err := r.ws.Read(rctx)
		if err != nil {
			return fmt.Errorf("bridge.hello: %w", err)
		}
		w, _ := parseWire(b)
		if string(w.ID) != `"replay-hello"` {
			continue
		}
		var res protocol.HelloResult
		if err := json.Unmarshal(w.Result, &res); err != nil || res.Session == "" {
			return fmt.Errorf("bridge.hello: unexpected answer %s", b)
		}
		r.mu.Lock()
		r.liveSess = res.Session
		r.m.bind["s:"+r.c.Header.Session] = res.Session
		r.m.rev["s:"+res.Session] = r.c.Header.Session
		r.mu.Unlock()
		return nil
	}
}

func (r *runner) liveSession() string {
	if v, ok := r.m.bind["s:"+r.c.Header.Session]; ok {
		return v
	}
	return r.liveSess
}

// play performs the actions at their captured times.
func (r *runner) play(ctx context.Context, actions []action) error {
	if len(r.c.Frames) == 0 {
		return nil
	}
	t0 := r.c.Frames[0].T
	start := time.Now()
	r.mu.Lock()
	r.started = start
	r.mu.Unlock()
	for n, a := range actions {
		if r.opts.Speed > 0 {
			at := start.Add(time.Duration(float64(a.f.T.Sub(t0)) / r.opts.Speed))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		r.waitAll(ctx, a.idx)
		switch a.kind {
		case "send":
			r.send(ctx, a)
		case "raise":
			r.raise(ctx, a)
		case "agent":
			r.agent(ctx, a)
		}
		r.mu.Lock()
		r.doneAt[a.idx] = time.Now()
		r.mu.Unlock()
		if r.opts.Progress != nil {
			r.opts.Progress(n+1, len(actions))
		}
	}
	return ctx.Err()
}

// waitAll waits until every expectation captured before frame index idx has
// arrived or is overdue, and every event answer captured before idx has been
// sent. An expectation is overdue Grace after it was due: its captured lag
// after the widget action that preceded it, counted from when the replay
// performed that action.
func (r *runner) waitAll(ctx context.Context, idx int) {
	for {
		r.mu.Lock()
		now := time.Now()
		pending := false
		var next time.Time
		for _, e := range r.expects {
			if e.done || e.gaveUp || e.idx >= idx {
				continue
			}
			overdue := r.due(e).Add(r.opts.Grace)
			if !now.Before(overdue) {
				e.gaveUp = true
				continue
			}
			pending = true
			if next.IsZero() || overdue.Before(next) {
				next = overdue
			}
		}
		for i := range r.answering {
			if i < idx {
				pending = true // our own timer: it fires
			}
		}
		ch := r.changed
		r.mu.Unlock()
		if !pending {
			return
		}
		var timeout <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// due is when e should have arrived; call with mu held.
func (r *runner) due(e *expect) time.Time {
	if t, ok := r.doneAt[e.after]; ok {
		return t.Add(e.lag)
	}
	return r.started.Add(e.lag)
}

// signal wakes waitAll; call with mu held.
func (r *runner) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *runner) send(ctx context.Context, a action) {
	if a.f.Invalid {
		var raw string
		_ = json.Unmarshal(a.f.Msg, &raw)
		r.write(ctx, r.ws, []byte(raw))
		return
	}
	r.mu.Lock()
	msg := r.m.substitute(a.f.Msg)
	if bytes.TrimSpace(msg)[0] == '[' {
		r.mu.Unlock()
		r.write(ctx, r.ws, msg)
		return
	}
	if len(a.w.ID) > 0 && string(a.w.ID) != "null" {
		r.nextID++
		liveID := strconv.Itoa(r.nextID)
		r.m.ids[string(a.w.ID)] = liveID
		r.live[liveID] = string(a.w.ID)
		var obj map[string]json.RawMessage
		if json.Unmarshal(msg, &obj) == nil {
			obj["id"] = json.RawMessage(liveID)
			msg, _ = json.Marshal(obj)
		}
	}
	r.mu.Unlock()
	r.write(ctx, r.ws, msg)
}

// raise asks the bridge's admin API to send the captured event.
func (r *runner) raise(ctx context.Context, a action) {
	var p protocol.EventParams
	_ = json.Unmarshal(a.w.Params, &p)
	r.mu.Lock()
	data := r.m.substitute(p.EventData)
	sess := r.liveSession()
	r.mu.Unlock()
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	event := strings.TrimPrefix(a.w.Method, protocol.EventPrefix)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		// The widget's answer (or its absence) is compared on the socket;
		// the admin API's echo of it is not needed.
		_, _ = r.admin.RaiseEvent(ctx, sess, event, data)
	}()
}

// readWidget matches everything the bridge sends the widget.
func (r *runner) readWidget(ctx context.Context) {
	defer r.wg.Done()
	for {
		b, err := r.ws.Read(ctx)
		if err != nil {
			return
		}
		r.received(ctx, b)
	}
}

func (r *runner) received(ctx context.Context, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.signal()
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if e := r.first(kindBatch, "", nil); e != nil {
			r.record(e, r.compareBatch(e.f.Msg, b), b)
			return
		}
		r.rep.Extra = append(r.rep.Extra, Extra{What: "batch", Got: b})
		return
	}
	w, ok := parseWire(b)
	if !ok {
		r.rep.Extra = append(r.rep.Extra, Extra{What: "non-JSON message", Got: json.RawMessage(strconv.Quote(string(b)))})
		return
	}
	switch {
	case w.Method != "" && len(w.ID) > 0:
		r.event(ctx, w, b)
	case w.Method != "":
		if e := r.first(kindNotify, w.Method, b); e != nil {
			r.record(e, r.m.compare(e.f.Msg, b, true), b)
			return
		}
		r.rep.Extra = append(r.rep.Extra, Extra{What: describe(kindNotify, w.Method), Got: b})
	case string(w.ID) == "null":
		if e := r.first(kindNullResp, "", nil); e != nil {
			r.record(e, r.m.compare(e.f.Msg, b, true), b)
			return
		}
		r.rep.Extra = append(r.rep.Extra, Extra{What: "error response", Got: b})
	default:
		capID, ok := r.live[string(w.ID)]
		var e *expect
		if ok {
			e = r.byReqID[capID]
		}
		if e == nil || e.done {
			r.rep.Extra = append(r.rep.Extra, Extra{What: "answer to " + r.reqMethod[capID], Got: b})
			return
		}
		r.record(e, r.m.compare(e.f.Msg, b, true, helloIgnore(e.method)...), b)
	}
}

// helloIgnore: bridge.hello's result.version is the bridge build.
func helloIgnore(method string) []string {
	if method == protocol.MethodHello {
		return []string{"result.version"}
	}
	return nil
}

// first returns the first pending expectation of a kind (and method); with
// msg, one that compares equal is preferred.
func (r *runner) first(kind, method string, msg []byte) *expect {
	var firstAny *expect
	for _, e := range r.expects {
		if e.done || e.kind != kind || e.method != method {
			continue
		}
		if msg == nil {
			return e
		}
		if firstAny == nil {
			firstAny = e
		}
		if len(r.m.compare(e.f.Msg, msg, false)) == 0 {
			return e
		}
	}
	return firstAny
}

func (r *runner) record(e *expect, diffs []Diff, got []byte) {
	e.done = true
	if len(diffs) == 0 {
		r.rep.Matched++
		return
	}
	r.rep.Diverged = append(r.rep.Diverged, Divergence{Frame: e.f.Where(), What: describe(e.kind, e.method), Diffs: diffs, Got: append(json.RawMessage(nil), got...)})
}

func (r *runner) compareBatch(want, got []byte) []Diff {
	var ws, gs []json.RawMessage
	if json.Unmarshal(want, &ws) != nil || json.Unmarshal(got, &gs) != nil {
		return []Diff{{Path: "$", Want: want, Got: got}}
	}
	if len(ws) != len(gs) {
		return []Diff{{Path: "$", Want: want, Got: got, Note: fmt.Sprintf("%d answers, want %d", len(gs), len(ws))}}
	}
	var diffs []Diff
	for i := range ws {
		for _, d := range r.m.compare(ws[i], gs[i], true) {
			d.Path = fmt.Sprintf("[%d].%s", i, d.Path)
			diffs = append(diffs, d)
		}
	}
	return diffs
}

// event compares an event request with the captured one and answers it the
// way the widget did, after the widget's captured latency. Called with mu.
func (r *runner) event(ctx context.Context, w wire, b []byte) {
	e := r.first(kindEvent, w.Method, b)
	if e == nil {
		r.rep.Extra = append(r.rep.Extra, Extra{What: describe(kindEvent, w.Method), Got: b})
		r.answerLater(ctx, r.ws, 0, protocol.AppendResponse(nil, w.ID, nil, protocol.Errorf(protocol.CodeMethodNotFound, "replay: the capture has no such event")), nil)
		return
	}
	r.record(e, r.m.compare(e.f.Msg, b, true), b)
	cw, _ := parseWire(e.f.Msg)
	ai, ok := r.answers[string(cw.ID)]
	if !ok {
		return // the widget never answered in the capture
	}
	ans := &r.c.Frames[ai]
	aw, _ := parseWire(ans.Msg)
	msg := rebuildResponse(w.ID, aw)
	r.answering[ai] = true
	r.answerLater(ctx, r.ws, ans.T.Sub(e.f.T), r.m.substitute(msg), func() {
		r.mu.Lock()
		delete(r.answering, ai)
		r.doneAt[ai] = time.Now()
		r.signal()
		r.mu.Unlock()
	})
}

func rebuildResponse(id json.RawMessage, w wire) []byte {
	out := []byte(`{"jsonrpc":"2.0","id":`)
	out = append(out, id...)
	if len(w.Error) > 0 && string(w.Error) != "null" {
		out = append(out, `,"error":`...)
		out = append(out, w.Error...)
	} else {
		res := w.Result
		if len(res) == 0 {
			res = json.RawMessage("null")
		}
		out = append(out, `,"result":`...)
		out = append(out, res...)
	}
	return append(out, '}')
}

// answerLater writes msg after d, then calls sent (when not nil), unless
// ctx ends first.
func (r *runner) answerLater(ctx context.Context, ws *client.RawConn, d time.Duration, msg []byte, sent func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
		r.write(ctx, ws, msg)
		if sent != nil {
			sent()
		}
	}()
}
