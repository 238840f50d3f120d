// Package correlation owns every attempt the bridge sends to a backend or a
// peer: it registers the attempt before it is sent, enforces the CIF timeout,
// and turns a timed-out attempt into a late record so that its late answer is
// still matched and reported — never reflected back or lost. (An answer a
// backend has at once, from memory, is checked against the deadline without
// registering the attempt: Table.DoBegin.)
//
// Entry points: New, Table.Do, Table.InFlight, Table.Late, Table.Stats.
package correlation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cifbridge/cifbridge/internal/recovered"
	"github.com/cifbridge/cifbridge/protocol"
)

// Kind tells what an attempt is for; hooks use it to decide whom to tell.
type Kind uint8

const (
	KindBackend Kind = iota // a cif.* or xrm.execute attempt on a backend
	KindEvent               // an event request to a widget
)

// Attempt is one attempt, from the bridge to the backend (or, KindEvent,
// to a widget): the one type every layer passes, from the widget's decoded
// request through the correlation table to Backend.Execute.
//
// The caller fills the request fields; Do fills ID (when empty) and
// Deadline before exec runs. Nothing changes an Attempt after that: exec,
// listings and OnLate read it concurrently.
type Attempt struct {
	// ID names the attempt; NewID gives a fresh one. Empty means Do picks one.
	ID      string `json:"id"`
	Session string `json:"session"`
	Method  string `json:"method"` // wire method, e.g. "cif.createrecord" or protocol.BackendExecute
	// Params is the named-params object, already validated by the bridge
	// (entity names present, record values normalised to JSON objects). It
	// may be nil when Typed is set: RawParams encodes Typed then.
	Params json.RawMessage `json:"-"`
	// Typed, when set, is the params already decoded and validated: a
	// pointer to the protocol params struct of Method (e.g.
	// *protocol.CreateRecordParams). A backend that would decode Params into
	// that type uses it instead (see backend.Params); it must not modify it.
	Typed any `json:"-"`
	// RequestID is the widget request that caused the attempt, as sent (may
	// be nil).
	RequestID json.RawMessage `json:"requestId,omitempty"`
	// WidgetMethod is the method of that widget request when it differs
	// from Method (an enreach.xrm.* call the retry engine serves).
	WidgetMethod string `json:"widgetMethod,omitempty"`
	// Timeout is the attempt's CIF timeout. Zero means the session's (the
	// bridge fills it in); a caller deadline that is earlier wins.
	Timeout time.Duration `json:"-"`
	// Started is when the CIF clock started (the widget's frame was read);
	// zero means now. The deadline is Started + Timeout.
	Started time.Time `json:"started"`
	// Deadline is the CIF deadline, set by Do. Exec's ctx lives longer
	// (until the late-record window ends) so that a slow operation can
	// still report its outcome; backends use Deadline only to account for
	// completions after the timeout (emulator ground truth).
	Deadline time.Time `json:"deadline"`
	// OnLate, when set, is called once with this attempt's late outcome, after
	// the table-wide Config.OnLate. The retry engine uses it.
	OnLate func(Late) `json:"-"`
	// Answered is set only by a Begin that answers at once, on the copy of
	// the attempt DoBegin gave it: when it had its answer, read from
	// Attempt.Now (so with its monotonic reading). DoBegin then checks the CIF
	// deadline against it rather than reading the clock again, and returns
	// it in Sent.Answered. Zero: DoBegin reads the clock.
	Answered time.Time `json:"-"`
	// NoTimeout marks a call CIF posts without a timer (openForm,
	// notifyEvent, insertNotes): Timeout is then only a safety limit, and
	// when it passes, or ctx ends, the attempt is ended (its exec ctx
	// cancelled) without a -32000 and without a late record.
	NoTimeout bool `json:"noTimeout,omitempty"`
	// Unnamed, set by a DoBegin caller that has no use for the name of an
	// attempt answered at once in time (Sent.ID), has DoBegin name the
	// attempt (ID) only when something will show the name: when begin
	// hands back a rest (the attempt is registered and listed) or the
	// answer comes late (a late record, and the -32000 names it). An answer
	// in time then costs no name, and begin may see an empty ID. Do names
	// every attempt.
	Unnamed bool `json:"-"`
	// Kind is what the attempt is for (next to NoTimeout, so that the two
	// small fields share a word: DoBegin allocates an Attempt per call).
	Kind Kind `json:"-"`
}

// Now is the time now on the attempt's clock: Started advanced by the
// monotonic time since, which is one clock read where time.Now is two (the
// wall clock and the monotonic one); time.Now when Started is zero. Its
// monotonic reading compares exactly with Deadline's.
func (a *Attempt) Now() time.Time {
	if a.Started.IsZero() {
		return time.Now()
	}
	return a.Started.Add(time.Since(a.Started))
}

// RawParams returns the params as JSON: Params, or Typed encoded when the
// caller gave only the decoded form.
func (a *Attempt) RawParams() (json.RawMessage, error) {
	if a.Params != nil || a.Typed == nil {
		return a.Params, nil
	}
	return protocol.Raw(a.Typed)
}

// Sent is what Do tells its caller about an attempt besides its answer.
type Sent struct {
	ID string // the attempt's id
	// Late is true when the attempt was detached as a late record (it timed
	// out, or ctx ended first): its answer, or its expiry, will come to
	// OnLate. A -32000 with Late false is the backend's own answer.
	Late bool
	// Answered is when the answer Do returns was had (the clock read that
	// found it in time), for a caller that times the call to its answer
	// without reading the clock again; zero when Do read none (a timeout,
	// an end of ctx, an error before the attempt ran).
	Answered time.Time
}

// Info is an attempt as a listing shows it (InFlight, Late): the attempt and
// its state.
type Info struct {
	Attempt
	State string `json:"state"` // protocol.AttemptInFlight, AttemptTimedOut or AttemptAbandoned
}

// Wire is the attempt as the admin API and the dashboard show it.
func (i Info) Wire() protocol.AttemptInfo {
	return protocol.AttemptInfo{
		ID: i.ID, Session: i.Session, Method: i.Method, RequestID: i.RequestID,
		WidgetMethod: i.WidgetMethod, Started: i.Started, Deadline: i.Deadline, State: i.State,
		NoTimeout: i.NoTimeout,
	}
}

// Late is the outcome of an attempt that was no longer awaited: it timed out,
// or its caller went away (widget disconnected).
type Late struct {
	Info   Info            // the attempt; State is "timedout" or "abandoned"
	Result json.RawMessage // set on success
	Err    error           // set on failure
	// LateBy is how long after the CIF deadline the answer came (0 or more).
	LateBy time.Duration
	// Expired is true when no answer came within the late-record window; Err
	// is then the context error and the outcome is unknown.
	Expired bool
	// Elsewhere is true when exec returned ErrElsewhere: another node of
	// the cluster, which holds the session now, reports this answer. Only
	// the attempt's own OnLate hears of it (to stop waiting for it); the
	// table-wide Config.OnLate does not.
	Elsewhere bool
}

// ErrElsewhere is what an Exec returns for an answer that came after the
// CIF deadline and that another node of a cluster delivers (it holds the
// session now, or claimed the answer first): the late record ends without
// a bridge.late here, so the widget hears of the answer exactly once.
var ErrElsewhere = errors.New("the late answer is delivered by the node of the cluster that holds the session now")

// ElsewhereAnswer is an ErrElsewhere (errors.Is holds) that keeps the
// answer it stands for: the backend's Result, or its Err. The table treats
// it as ErrElsewhere; a capture records the answer the backend really gave
// rather than an internal error.
type ElsewhereAnswer struct {
	Result json.RawMessage
	Err    error
}

func (e *ElsewhereAnswer) Error() string        { return ErrElsewhere.Error() }
func (e *ElsewhereAnswer) Is(target error) bool { return target == ErrElsewhere }

// Success reports whether the late answer was a success.
func (l Late) Success() bool { return !l.Expired && l.Err == nil }

// Exec performs the attempt; a.ID and a.Deadline are set, and a must not be
// changed. ctx ends when the late-record window ends (or the table closes),
// not at the CIF deadline, so that a slow operation can still report its
// outcome.
type Exec func(ctx context.Context, a *Attempt) (json.RawMessage, error)

// Begin starts an attempt on the goroutine that called DoBegin, before the
// table registers it: a is as for Exec (ID and Deadline set, read-only), ctx
// is the table's own context, which ends when the table closes. A backend
// that has the answer at once, in memory, returns it with a nil rest; one
// that must wait (for a peer, a timer) returns rest instead, having done
// nothing that rest does not finish: DoBegin registers the attempt then and
// runs rest on the attempt's own goroutine as Do runs an Exec, with the
// attempt's exec ctx. What begin may do with a, and keep of it: DoBegin.
type Begin func(ctx context.Context, a *Attempt) (res json.RawMessage, err error, rest Exec)

// Config configures a Table. Zero values mean the documented default.
type Config struct {
	// LateWindow is how long a timed-out attempt is kept as a late record
	// waiting for its answer. Default 10 minutes (DESIGN §4).
	LateWindow time.Duration
	// OnLate is called for every late answer and every expiry. It runs on the
	// attempt's own goroutine and must not block for long.
	OnLate func(Late)
}

type state uint8

const (
	stInflight state = iota
	stAnswered
	stTimedOut
	stAbandoned
	stEnded // a NoTimeout attempt ended unanswered: no late record
)

type entry struct {
	a     Attempt
	state state
	done  chan outcome // buffered 1; written once when answered in time; nil once detached
	// slot is 1 + the entry's index in the table's deadline heap, 0 when it
	// is not in it. The heap wakes for the entry at the CIF deadline (or
	// safety limit) while it is in flight, at the end of the late-record
	// window once detached. Guarded by Table.mu.
	slot int
	ctx  execCtx // exec's context
}

// waiter is what Do waits with: the entry's done channel. It is not used
// after Do returns: the attempt's one outcome has been received (its
// answer, or the timeout or end the deadline heap sent), and detach takes
// done from a late entry, whose answer goes to OnLate instead.
type waiter struct {
	done chan outcome
}

type outcome struct {
	result json.RawMessage
	err    error
	at     time.Time // when an answer in time was had (Sent.Answered)
	// late is true when the CIF deadline passed: the deadline heap
	// detached the attempt, or the answer came at or after the deadline
	// before the heap did. Do then reports the timeout, and the answer goes
	// to OnLate like any late answer.
	late bool
	// ended is true when a NoTimeout attempt reached its safety limit.
	ended bool
}

// Table is the correlation table. It is safe for concurrent use.
type Table struct {
	cfg    Config
	prefix string
	// seq numbers the attempts (NewID), alone on its cache lines: every
	// attempt adds to it, from whichever core runs it, and the fields
	// every attempt only reads (prefix, base) must not lose their cached
	// line at each add (false sharing).
	_    [64]byte
	seq  atomic.Uint64
	_    [56]byte
	base context.Context // ends when the table closes; parent of every exec ctx
	stop context.CancelFunc
	wg   sync.WaitGroup // exec goroutines
	// waiters recycles what Do waits with (*waiter), so that an attempt
	// costs no new channel. The pool is per table, not global, because a
	// channel made in a testing/synctest bubble must not be used outside it.
	waiters sync.Pool
	fire    func() // t.fireDue, bound once: the deadline heap's timer func

	// mu guards the maps, the deadline heap and entry states.
	mu       sync.Mutex
	dl       deadlines
	inflight map[string]*entry
	late     map[string]*entry
	// sessions counts each session's backend attempts that became late
	// records (SessionLate), until ForgetSession.
	sessions map[string]*protocol.LateCounts

	timeouts, lateAnswers, expired, abandoned atomic.Uint64
}

// New returns a Table.
func New(cfg Config) *Table {
	if cfg.LateWindow <= 0 {
		cfg.LateWindow = 10 * time.Minute
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	base, stop := context.WithCancel(context.Background())
	t := &Table{
		cfg:      cfg,
		prefix:   "at" + hex.EncodeToString(b[:]) + "-",
		base:     base,
		stop:     stop,
		inflight: make(map[string]*entry),
		late:     make(map[string]*entry),
		sessions: make(map[string]*protocol.LateCounts),
	}
	t.fire = t.fireDue
	t.dl.epoch = time.Now()
	return t
}

// NewID returns a fresh attempt id, unique within the process.
func (t *Table) NewID() string {
	var b [32]byte // the prefix (9 bytes) and at most 13 base-36 digits: one allocation, for the string
	return string(strconv.AppendUint(append(b[:0], t.prefix...), t.seq.Add(1), 36))
}

// LateWindow is the configured late-record window.
func (t *Table) LateWindow() time.Duration { return t.cfg.LateWindow }

// Do registers a, runs exec on its own goroutine and waits for the answer,
// the CIF deadline or the end of ctx, whichever comes first.
//
// On an answer in time it returns exec's result or error. At the deadline it
// returns a -32000 timeout error (protocol.NewTimeoutError) and keeps the
// attempt as a late record. When ctx ends first it returns context.Cause(ctx)
// and keeps the attempt as an abandoned late record. Sent says which
// happened and names the attempt.
func (t *Table) Do(ctx context.Context, a Attempt, exec Exec) (json.RawMessage, Sent, error) {
	return t.do(ctx, &a, nil, exec)
}

// DoBegin is Do for a backend that can often answer at once: begin runs on
// the caller's goroutine before the attempt is registered, with the
// table's context (it ends when the table closes). An answer begin has at
// once is DoBegin's answer with no goroutine, no timer, no lock and no
// entry in the table, unless it came at or after the CIF deadline: then it
// is a timeout and a late record's answer, as in Do (counted, reported
// through OnLate). When begin returns rest instead, the attempt is
// registered then and goes on exactly as in Do, rest being its exec (its
// deadline, already passed or not, still counts from Started).
//
// begin's attempt is a copy of its own: it may set Answered on it when it
// answers at once (see Attempt.Answered), and nothing else. Once it
// answered at once it must keep no pointer to it (the copy is recycled);
// a rest it returns may keep one.
func (t *Table) DoBegin(ctx context.Context, a Attempt, begin Begin) (json.RawMessage, Sent, error) {
	return t.do(ctx, &a, begin, nil)
}

// begun recycles the copies of attempts DoBegin gives begin: an answer at
// once allocates none. A copy begin answered with a rest is not recycled
// (the rest may hold it).
var begun = sync.Pool{New: func() any { return new(Attempt) }}

// do is Do and DoBegin. a is the caller's copy, which do fills in and
// copies into the entry (it keeps no pointer to it).
func (t *Table) do(ctx context.Context, a *Attempt, begin Begin, exec Exec) (json.RawMessage, Sent, error) {
	if a.Started.IsZero() {
		a.Started = time.Now()
	}
	a.Deadline = a.Started.Add(a.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(a.Deadline) {
		a.Deadline = d
	}
	if a.ID == "" && (begin == nil || !a.Unnamed) {
		a.ID = t.NewID()
	}
	sent := Sent{ID: a.ID}
	if err := t.base.Err(); err != nil {
		return nil, sent, protocol.Errorf(protocol.CodeShuttingDown, "bridge is shutting down")
	}
	if begin != nil {
		ba := begun.Get().(*Attempt) // begin's copy, recycled after an answer at once
		*ba = *a
		res, err, rest := begin(t.base, ba)
		if rest == nil {
			o := t.atOnce(ba, res, err) // copies what it keeps of ba
			sent.ID = ba.ID             // named by atOnce if it was late
			*ba = Attempt{}             // holds nothing of this call while pooled
			begun.Put(ba)
			return t.answer(o, a.Timeout, sent)
		}
		exec = rest // ba is rest's to keep
		if a.ID == "" {
			a.ID = t.NewID() // registered: listed under its name
			sent.ID = a.ID
		}
	}
	e := &entry{a: *a}
	w, _ := t.waiters.Get().(*waiter)
	if w == nil {
		w = &waiter{done: make(chan outcome, 1)}
	}
	defer t.waiters.Put(w)
	e.done = w.done
	t.mu.Lock()
	// Checked again under mu: Close cancels every entry the maps hold once
	// the base has ended, so none registered after it runs unstopped.
	if t.base.Err() != nil {
		t.mu.Unlock()
		return nil, sent, protocol.Errorf(protocol.CodeShuttingDown, "bridge is shutting down")
	}
	t.inflight[e.a.ID] = e
	t.dl.push(e, e.a.Deadline, t.fire)
	t.wg.Add(1)
	t.mu.Unlock()

	go func() {
		res, err := runExec(exec, e)
		t.finish(e, res, err)
	}()

	// The deadline heap sends the timeout (or a NoTimeout call's end) on
	// done at the deadline.
	select {
	case o := <-w.done:
		return t.answer(o, e.a.Timeout, sent)
	case <-ctx.Done():
		if !time.Now().Before(e.a.Deadline) {
			// The caller's deadline is the CIF deadline: the timeout (or a
			// NoTimeout call's limit) wins, as it would have if the heap's
			// timer had run first. fireDue sends it on done.
			t.fireDue()
			break
		}
		if e.a.NoTimeout {
			if t.end(e) {
				return nil, sent, context.Cause(ctx)
			}
			break
		}
		if t.detach(e, stAbandoned) {
			t.abandoned.Add(1)
			sent.Late = true
			return nil, sent, context.Cause(ctx)
		}
	}
	return t.answer(<-w.done, e.a.Timeout, sent) // answered or timed out in the same instant
}

// atOnce is Do's outcome for the answer a begin had at once for a, an
// attempt never registered: that answer when it came before the deadline (one
// monotonic clock read, or none when begin told when it had the answer,
// Attempt.Answered: the deadline has a monotonic reading, from
// Started.Add), else the timeout, the attempt's late record being counted
// and reported as complete does for an answer that came after the deadline
// (a NoTimeout call's limit ends it instead, as fireDue would have). The
// report runs on a goroutine of its own, as it would have had exec run on
// one, not before Do's answer on the caller's.
func (t *Table) atOnce(a *Attempt, res json.RawMessage, err error) outcome {
	now := a.Answered // the clock begin read when it had the answer
	if now.IsZero() {
		now = a.Now()
	}
	if a.Deadline.Sub(now) > 0 {
		return outcome{result: res, err: err, at: now}
	}
	if a.NoTimeout {
		return outcome{ended: true}
	}
	if a.ID == "" { // Unnamed: a late record is reported under its name
		a.ID = t.NewID()
	}
	expired := err != nil && t.base.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled))
	t.mu.Lock()
	t.timeouts.Add(1)
	var c *protocol.LateCounts
	if a.Kind == KindBackend {
		c = t.sessionLate(a.Session)
		c.Detached++
	}
	if errors.Is(err, ErrElsewhere) {
		t.mu.Unlock()
		if a.OnLate != nil {
			a.OnLate(Late{Info: Info{Attempt: *a, State: stateName(stTimedOut)}, Err: err, Elsewhere: true})
		}
		return outcome{late: true}
	}
	if c != nil {
		if expired {
			c.Expired++
		} else {
			c.Answered++
		}
	}
	// wg counts the report unless the table has closed (Close may be
	// waiting on wg then: the report runs here instead). Under mu, as in
	// do: Close ends the base before it takes mu, then waits.
	async := t.base.Err() == nil
	if async {
		t.wg.Add(1)
	}
	t.mu.Unlock()
	l := lateOf(a, stTimedOut, res, err, expired)
	if !async {
		t.report(l)
		return outcome{late: true}
	}
	go func() {
		defer t.wg.Done()
		t.report(l)
	}()
	return outcome{late: true}
}

// runExec runs exec, turning a panic into an error (recovered): it runs on
// a goroutine of its own, where a panic would end the daemon, and the
// attempt must still finish (its caller answered, the table cleaned).
func runExec(exec Exec, e *entry) (res json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, recovered.Error(p)
		}
	}()
	return exec(&e.ctx, &e.a)
}

// finish records exec's answer and ends the attempt's exec ctx and its
// share of wg.
func (t *Table) finish(e *entry, res json.RawMessage, err error) {
	defer t.wg.Done()
	defer e.ctx.cancel(nil)
	expired := err != nil && e.ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled))
	if l, late := t.complete(e, res, err, expired); late {
		t.report(l)
	}
}

// answer is what Do returns for an outcome it received; timeout is the
// attempt's.
func (t *Table) answer(o outcome, timeout time.Duration, sent Sent) (json.RawMessage, Sent, error) {
	if o.ended {
		return nil, sent, NewSafetyLimitError(timeout)
	}
	if o.late {
		sent.Late = true
		return nil, sent, protocol.NewTimeoutError(timeout.Milliseconds(), sent.ID)
	}
	sent.Answered = o.at
	return o.result, sent, o.err
}

// detach moves an in-flight entry to the late records; false when it was
// answered meanwhile.
func (t *Table) detach(e *entry, to state) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.state != stInflight {
		return false
	}
	t.detachLocked(e, to)
	return true
}

// detachLocked moves the in-flight entry e to the late records, due at the
// end of its late-record window, and returns its done channel (which Do
// recycles; a late answer goes to OnLate). mu is held.
func (t *Table) detachLocked(e *entry, to state) chan outcome {
	done := e.done
	e.state = to
	e.done = nil
	if e.a.Kind == KindBackend {
		t.sessionLate(e.a.Session).Detached++
	}
	delete(t.inflight, e.a.ID)
	t.late[e.a.ID] = e
	t.dl.remove(e)
	t.dl.push(e, e.a.Deadline.Add(t.cfg.LateWindow), t.fire)
	return done
}

// fireBatch is how many due entries fireDue handles per hold of mu: when
// many deadlines fall in the same instant, the first attempts are told (and
// their goroutines run on the other Ps) while the next batch is detached.
const fireBatch = 64

// fireDue is the deadline heap's timer func: every in-flight attempt whose
// CIF deadline has come is detached as a late record and its Do told so (a
// NoTimeout attempt is ended instead), and every late record whose window
// has passed gets its exec ctx ended, so its exec returns and the record
// expires.
func (t *Table) fireDue() {
	type told struct {
		e    *entry
		done chan outcome // nil: a late record's window ended
		o    outcome
	}
	var buf [fireBatch]*entry
	for {
		t.mu.Lock()
		due := t.dl.due(time.Now(), fireBatch, buf[:0], t.fire)
		// On the heap, sized to what is due: on the stack, a batch would
		// grow the fresh goroutine's stack every time the timer fires.
		tell := make([]told, len(due))
		for i, e := range due {
			tell[i] = told{e: e}
			switch {
			case e.state != stInflight: // a late record whose window ended
			case e.a.NoTimeout:
				e.state = stEnded
				tell[i].done, tell[i].o = e.done, outcome{ended: true}
				e.done = nil
				delete(t.inflight, e.a.ID)
			default:
				tell[i].done, tell[i].o = t.detachLocked(e, stTimedOut), outcome{late: true}
				t.timeouts.Add(1)
			}
		}
		t.mu.Unlock()
		for _, x := range tell {
			switch {
			case x.done == nil:
				x.e.ctx.cancel(context.DeadlineExceeded)
			case x.o.ended:
				x.done <- x.o // buffered, written once: never blocks
				x.e.ctx.cancel(errEnded)
			default:
				x.done <- x.o
			}
		}
		if len(due) < fireBatch {
			return
		}
	}
}

// end ends an in-flight NoTimeout attempt unanswered: it leaves the table
// and its exec ctx is cancelled; no late record. False when it was answered
// meanwhile.
func (t *Table) end(e *entry) bool {
	t.mu.Lock()
	if e.state != stInflight {
		t.mu.Unlock()
		return false
	}
	e.state = stEnded
	e.done = nil
	delete(t.inflight, e.a.ID)
	t.dl.remove(e)
	t.mu.Unlock()
	e.ctx.cancel(errEnded)
	return true
}

// errTableClosed is the cause of the exec ctxs Close ends.
var errTableClosed = errors.New("the correlation table closed (the bridge is shutting down)")

// errEnded is the cause of a NoTimeout attempt's exec ctx when it ended.
var errEnded = errors.New("the call ended unanswered (safety limit or session end)")

// NewSafetyLimitError is the error of a NoTimeout call that got no answer
// within its safety limit: -32008, not a CIF timeout.
func NewSafetyLimitError(limit time.Duration) *protocol.Error {
	return protocol.Errorf(protocol.CodeSafetyLimit,
		"no answer within the bridge's safety limit of %v for calls CIF runs without a timeout (--notimeout-limit); the call was ended", limit)
}

// complete records exec's answer: to Do when it came in time, else as the
// attempt's late outcome, which it returns (late true) for report.
func (t *Table) complete(e *entry, res json.RawMessage, err error, expired bool) (l Late, late bool) {
	// One monotonic clock read (Attempt.Now): the deadline carries a
	// monotonic reading (Started.Add).
	now := e.a.Now()
	inTime := e.a.Deadline.Sub(now) > 0
	t.mu.Lock()
	st := e.state
	switch st {
	case stEnded:
		t.mu.Unlock()
		return l, false
	case stInflight:
		delete(t.inflight, e.a.ID)
		t.dl.remove(e)
		if inTime {
			e.state = stAnswered
			t.mu.Unlock()
			e.done <- outcome{result: res, err: err, at: now}
			return l, false
		}
		// The answer came after the deadline, but before Do saw its timer
		// (a busy machine): the caller has timed out all the same, as a
		// widget would have, and this is a late answer. So an answer after
		// the deadline is never passed off as one in time, whichever
		// goroutine runs first.
		st, e.state = stTimedOut, stTimedOut
		e.done <- outcome{late: true} // buffered, written once: never blocks
		e.done = nil
		t.timeouts.Add(1)
		if e.a.Kind == KindBackend {
			t.sessionLate(e.a.Session).Detached++
		}
	case stTimedOut, stAbandoned:
		delete(t.late, e.a.ID)
		t.dl.remove(e)
	}
	if errors.Is(err, ErrElsewhere) {
		t.mu.Unlock()
		if e.a.OnLate != nil {
			e.a.OnLate(Late{Info: Info{Attempt: e.a, State: stateName(st)}, Err: err, Elsewhere: true})
		}
		return
	}
	if st == stTimedOut || st == stAbandoned {
		// The counts exist since the attempt was detached, unless the
		// session has ended (ForgetSession): then they are not made again.
		if c := t.sessions[e.a.Session]; c != nil && e.a.Kind == KindBackend {
			if expired {
				c.Expired++
			} else {
				c.Answered++
			}
		}
	}
	t.mu.Unlock()
	return lateOf(&e.a, st, res, err, expired), true
}

// lateOf builds a late record's outcome. It is complete's tail, a
// function of its own so that complete's frame stays small: the exec
// goroutine, fresh for every attempt, then answers in time without growing
// its stack.
func lateOf(a *Attempt, st state, res json.RawMessage, err error, expired bool) Late {
	l := Late{Info: Info{Attempt: *a, State: stateName(st)}, Result: res, Err: err, Expired: expired}
	if d := time.Since(a.Deadline); d > 0 {
		l.LateBy = d
	}
	return l
}

// report counts a late outcome and hands it to OnLate (the table's, then
// the attempt's).
func (t *Table) report(l Late) {
	if l.Expired {
		t.expired.Add(1)
	} else {
		t.lateAnswers.Add(1)
	}
	if t.cfg.OnLate != nil {
		t.cfg.OnLate(l)
	}
	if l.Info.OnLate != nil {
		l.Info.OnLate(l)
	}
}

func stateName(s state) string {
	switch s {
	case stInflight:
		return protocol.AttemptInFlight
	case stTimedOut:
		return protocol.AttemptTimedOut
	case stAbandoned:
		return protocol.AttemptAbandoned
	default:
		return "answered"
	}
}

// sessionLate returns the counts of a session; mu is held.
func (t *Table) sessionLate(session string) *protocol.LateCounts {
	c := t.sessions[session]
	if c == nil {
		c = &protocol.LateCounts{}
		t.sessions[session] = c
	}
	return c
}

// SessionLate returns the late-record counts of a session.
func (t *Table) SessionLate(session string) protocol.LateCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.sessions[session]; c != nil {
		return *c
	}
	return protocol.LateCounts{}
}

// ForgetSession drops a session's late-record counts (when it has ended).
func (t *Table) ForgetSession(session string) {
	t.mu.Lock()
	delete(t.sessions, session)
	t.mu.Unlock()
}

// Has reports whether attempt id is in flight or a late record here.
func (t *Table) Has(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inflight[id] != nil || t.late[id] != nil
}

// InFlight lists the attempts awaiting an answer, for one session or all
// (session == "").
func (t *Table) InFlight(session string) []Info { return t.list(t.inflight, session) }

// Late lists the late records, for one session or all.
func (t *Table) Late(session string) []Info { return t.list(t.late, session) }

func (t *Table) list(m map[string]*entry, session string) []Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Info
	for _, e := range m {
		if session == "" || e.a.Session == session {
			out = append(out, Info{Attempt: e.a, State: stateName(e.state)})
		}
	}
	return out
}

// Stats returns the counters.
func (t *Table) Stats() protocol.CorrelationStats {
	t.mu.Lock()
	s := protocol.CorrelationStats{InFlight: len(t.inflight), Late: len(t.late)}
	t.mu.Unlock()
	s.Timeouts = t.timeouts.Load()
	s.LateAnswers = t.lateAnswers.Load()
	s.Expired = t.expired.Load()
	s.Abandoned = t.abandoned.Load()
	return s
}

// Close ends every exec context (late records then expire with a context
// error and are reported through OnLate) and waits for the exec goroutines to
// return, or for ctx to end.
func (t *Table) Close(ctx context.Context) error {
	t.stop()
	t.mu.Lock()
	t.dl.stop()
	running := make([]*entry, 0, len(t.inflight)+len(t.late))
	for _, e := range t.inflight {
		running = append(running, e)
	}
	for _, e := range t.late {
		running = append(running, e)
	}
	t.mu.Unlock()
	for _, e := range running {
		e.ctx.cancel(errTableClosed)
	}
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
