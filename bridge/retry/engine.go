package retry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// Bridge is what the engine needs of the bridge: *bridge.Server.
type Bridge interface {
	// Attempt runs one attempt under the session's CIF timeout; Sent names
	// it and says whether it became a late record.
	Attempt(ctx context.Context, sess *bridge.Session, a correlation.Attempt) (json.RawMessage, correlation.Sent, error)
	// Notify sends a notification to a session's newest connection.
	Notify(session, method string, params any) bool
}

// PrimaryKeys tells the engine a table's primary-key column (e.g. the
// emulator's metadata: phonecall → activityid).
type PrimaryKeys interface {
	PrimaryKey(entity string) (column string, ok bool)
}

// Config configures New.
type Config struct {
	// Bridge runs attempts and sends notifications. Required.
	Bridge Bridge
	// Ledger records possible duplicates. Required.
	Ledger ledger.Store
	// Keys resolves primary-key columns for idempotent creates; nil (or an
	// unknown entity) falls back to primarykey.Of.
	Keys PrimaryKeys
	// IdempotentCreates makes idempotent:true the default for createRecord
	// (a caller may still send idempotent:false).
	IdempotentCreates bool
	// Logger receives the engine's logs (zero value: disabled).
	Logger zerolog.Logger
	// LedgerWriteTimeout bounds one ledger write. Default 10 s.
	LedgerWriteTimeout time.Duration
}

// Engine is the retry engine. Create it with New.
type Engine struct {
	cfg Config
	log zerolog.Logger

	// mu guards live: logical creates still waiting for late answers.
	mu   sync.Mutex
	live map[*logicalCreate]struct{}
}

// New validates cfg and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Bridge == nil {
		return nil, errors.New("retry engine: no bridge configured")
	}
	if cfg.Ledger == nil {
		return nil, errors.New("retry engine: no ledger configured")
	}
	if cfg.LedgerWriteTimeout <= 0 {
		cfg.LedgerWriteTimeout = 10 * time.Second
	}
	return &Engine{cfg: cfg, log: cfg.Logger.With().Str("component", "retry").Logger(), live: map[*logicalCreate]struct{}{}}, nil
}

// Register adds the enreach.xrm.* methods to srv (before it serves).
func (e *Engine) Register(srv interface {
	HandleMethod(method string, h bridge.MethodHandler)
}) {
	srv.HandleMethod(protocol.MethodXrmCreateRecord, e.CreateRecord)
	srv.HandleMethod(protocol.MethodXrmUpdateRecord, e.UpdateRecord)
	srv.HandleMethod(protocol.MethodXrmRetrieveRecord, e.RetrieveRecord)
	srv.HandleMethod(protocol.MethodXrmExecute, e.Execute)
	if l, ok := srv.(interface{ HandleLate(func(correlation.Late)) }); ok {
		l.HandleLate(e.AdoptLate)
	}
}

// Pending is the number of logical creates whose timed-out attempts have not
// all been answered (or expired) yet.
func (e *Engine) Pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.live)
}

// Retryable reports whether an attempt that failed with err may be retried
// (see the package doc).
func Retryable(err error) bool { return classify(err) != failFinal }

// NotRun reports whether err proves that the operation never ran, so that
// even an operation that is not safe to repeat (an action, a CRUD update or
// delete through execute) may be retried: the bridge refused it (-32003
// overloaded) or the backend turned it away before doing anything (429
// throttled, 503 unavailable) or never got it (-32002 with delivered
// false: no host peer, connection refused). A timeout, a host gone with the
// call (-32002 delivered) or a gateway error (502, 504) leaves the outcome
// open and is no proof.
func NotRun(err error) bool { return classify(err) == failNotRun }

// outcomeOpen reports whether a failure leaves open for good whether the
// operation ran: a -32000 the backend itself answered (its request was cut
// off; the server may still finish it) or a gateway's 502/504, which says
// nothing of the server behind it. A late answer with -32002 (the host
// peer went away with the attempt in its hands) is open too. No late answer
// will ever settle these.
func outcomeOpen(err error, late bool) bool {
	k := classify(err)
	return k == failOpen || late && k == failGone
}

// failure kinds (classify).
type failKind int

const (
	failFinal  failKind = iota // not retried: an answer about the data, bad input, shutdown, …
	failNotRun                 // retried: proves the operation never ran (-32003, 429, 503)
	failOpen                   // retried: the operation may have run (-32000, 502, 504)
	failGone                   // retried: -32002 without data (an older peer): whether it had the call is not said
)

func classify(err error) failKind {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return failFinal
	}
	switch pe.Code {
	case protocol.CodeTimeout:
		return failOpen
	case protocol.CodeNoBackend:
		if d, ok := protocol.NoBackend(err); ok {
			if d.Delivered {
				return failOpen // it reached the executor, which went away
			}
			return failNotRun // it never left the bridge
		}
		return failGone
	case protocol.CodeOverloaded:
		return failNotRun
	case protocol.CodeBackend:
		d, ok := protocol.BackendData(err)
		if !ok {
			return failFinal
		}
		switch d.DataverseCode {
		case codeDuplicateRule, codeNotFound, codeDuplicateKey:
			return failFinal
		}
		switch d.HTTPStatus {
		case 429, 503:
			return failNotRun
		case 502, 504:
			return failOpen
		}
	}
	return failFinal
}

// Dataverse codes the engine looks at.
const (
	codeDuplicateKey  = "0x80040237" // 412: a record with matching key values already exists
	codeDuplicateRule = "0x80040333" // 500: duplicate-detection rule matched
	codeNotFound      = "0x80040217" // 404: record does not exist
)

func isDuplicateKey(err error) bool {
	d, ok := protocol.BackendData(err)
	return ok && (d.DataverseCode == codeDuplicateKey || d.HTTPStatus == 412 && d.DataverseCode == "")
}

// settings are one call's resolved retry settings.
type settings struct {
	retries int
	delay   time.Duration
}

func retrySettings(maxRetries, delay *int) (settings, error) {
	r, d, err := protocol.RetrySettings(maxRetries, delay)
	if err != nil {
		return settings{}, err
	}
	return settings{retries: r, delay: time.Duration(d) * time.Millisecond}, nil
}

// waitBefore is the pause before the next attempt: the fixed delay, or the
// Retry-After the last error carried in data.retryAfterMs when that is
// longer (bounded by protocol.MaxDelayMs). Any error code may carry it: a
// backend's 429/503 (-32001) and a host peer's or upstream's -32003 alike.
func waitBefore(delay time.Duration, lastErr error) time.Duration {
	if ms := retryAfterMs(lastErr); ms > 0 {
		ra := time.Duration(min(ms, protocol.MaxDelayMs)) * time.Millisecond
		delay = max(delay, ra)
	}
	return delay
}

func retryAfterMs(err error) int64 {
	var pe *protocol.Error
	if !errors.As(err, &pe) || len(pe.Data) == 0 {
		return 0
	}
	var d struct {
		RetryAfterMs int64 `json:"retryAfterMs"`
	}
	if json.Unmarshal(pe.Data, &d) != nil {
		return 0
	}
	return d.RetryAfterMs
}

// sleep waits d with a timer (so synctest bubbles can run it) or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// attempt runs one attempt of a for call and describes it for the ledger
// and -32005 data. OutcomeTimeout means the attempt became a late record (CIF
// timeout, or the caller went away): its late answer, or its expiry, will
// still come to a.OnLate. An answer that leaves the outcome open for good
// (outcomeOpen) is OutcomeUnknown.
func (e *Engine) attempt(ctx context.Context, call bridge.WidgetCall, a correlation.Attempt) (json.RawMessage, protocol.LedgerAttempt, error) {
	start := time.Now()
	a.RequestID, a.WidgetMethod = call.RequestID, widgetMethod(call.Method, a.Method)
	res, sent, err := e.cfg.Bridge.Attempt(ctx, call.Session, a)
	rec := protocol.LedgerAttempt{AttemptID: sent.ID, LatencyMs: time.Since(start).Milliseconds()}
	if err == nil {
		rec.Outcome = protocol.LedgerOutcomeSuccess
		return res, rec, nil
	}
	failure(&rec, err)
	switch {
	case pe(err).Code == protocol.CodeShuttingDown && delivered(err):
		// The bridge stopped with the attempt in the backend's hands: it
		// may have run. It stays pending, so the create is recorded as
		// suspected before the process exits (see stopping).
		rec.Outcome = protocol.LedgerOutcomeTimeout
	case sent.Late:
		rec.Outcome = protocol.LedgerOutcomeTimeout
	case outcomeOpen(err, false):
		rec.Outcome = protocol.LedgerOutcomeUnknown
	}
	return nil, rec, err
}

// tries is how the attempts of one call ended (Engine.repeat).
type tries struct {
	res      json.RawMessage // the answer of the attempt that succeeded
	ok       bool            // an attempt succeeded
	attempts []protocol.LedgerAttempt
	lastErr  error
	// retryable is false when the retries stopped early: a failure retryOn
	// rejected, or ctx ended.
	retryable bool
}

// err is the call's error when no attempt succeeded (finalError of the
// attempts, with no ledger entry to name), nil when one did.
func (t tries) err() error {
	if t.ok {
		return nil
	}
	return finalError(t.attempts, t.lastErr, "", t.retryable)
}

// repeat is the one retry loop of every enreach.xrm.* method. It runs a
// (a fresh attempt each time) until one succeeds, one fails with an error
// retryOn rejects, ctx ends or set.retries are used up, waiting set.delay
// (or the last error's Retry-After, when longer) between attempts.
//
// settle, when set, sees every attempt's record first and decides whether
// the call succeeded: the logical create records each attempt in its
// ledger state and takes a duplicate-key failure of an idempotent create as
// its record. Without it an attempt succeeds when it has no error.
func (e *Engine) repeat(ctx context.Context, call bridge.WidgetCall, a correlation.Attempt, set settings, retryOn func(error) bool,
	settle func(res json.RawMessage, rec *protocol.LedgerAttempt, err error) bool) tries {
	t := tries{retryable: true}
	for i := 0; i <= set.retries; i++ {
		if i > 0 {
			if err := sleep(ctx, waitBefore(set.delay, t.lastErr)); err != nil {
				t.lastErr, t.retryable = err, false
				break
			}
		}
		res, rec, err := e.attempt(ctx, call, a)
		ok := err == nil
		if settle != nil {
			ok = settle(res, &rec, err)
		}
		t.attempts = append(t.attempts, rec)
		if ok {
			t.res, t.ok = res, true
			return t
		}
		t.lastErr = err
		if !retryOn(err) || ctx.Err() != nil {
			t.retryable = false
			break
		}
	}
	return t
}

// delivered reports whether a -32007 says the call had reached the backend.
func delivered(err error) bool {
	d, ok := protocol.Delivered(err)
	return ok && d
}

// stopping reports whether the bridge is shutting down (a Bridge that
// tells: *bridge.Server's Ready is false once it drains).
func (e *Engine) stopping() bool {
	r, ok := e.cfg.Bridge.(interface{ Ready() bool })
	return ok && !r.Ready()
}

// failure records err in rec as a plain failure.
func failure(rec *protocol.LedgerAttempt, err error) {
	e := pe(err)
	rec.Outcome, rec.Code, rec.Message = protocol.LedgerOutcomeFailure, e.Code, e.Message
	rec.DataverseCode, rec.HTTPStatus = "", 0
	if d, ok := protocol.BackendData(err); ok {
		rec.DataverseCode, rec.HTTPStatus = d.DataverseCode, d.HTTPStatus
	}
}

func pe(err error) *protocol.Error { return protocol.AsError(err) }

// finalError is what the widget gets when no attempt succeeded: the single
// attempt's own error, or -32005 listing every attempt.
func finalError(attempts []protocol.LedgerAttempt, last error, ledgerID string, retryable bool) error {
	if len(attempts) == 1 && ledgerID == "" {
		return last
	}
	lastErr := protocol.AsError(last)
	msg := fmt.Sprintf("retries exhausted: all %d attempts failed; the last with %d: %s", len(attempts), lastErr.Code, lastErr.Message)
	if !retryable {
		msg = fmt.Sprintf("retries stopped: attempt %d failed with a non-retryable error %d: %s", len(attempts), lastErr.Code, lastErr.Message)
	}
	switch {
	case ledgerID == "":
	case lastErr.Code == protocol.CodeShuttingDown && delivered(last):
		msg += "; the bridge stopped while the backend had an attempt, so the record may exist: see ledger entry " + ledgerID
	default:
		msg += "; an attempt timed out, so the record may exist: see ledger entry " + ledgerID
	}
	return protocol.NewError(protocol.CodeRetriesExhausted, msg, protocol.ExhaustedData{Attempts: attempts, LedgerID: ledgerID, LastError: lastErr})
}

// objectResult unwraps a result that a backend sent as a JSON string holding
// an object (CIF's own shape) into the object.
func objectResult(res json.RawMessage) json.RawMessage {
	r := bytes.TrimSpace(res)
	if len(r) > 0 && r[0] == '"' {
		var s string
		if json.Unmarshal(r, &s) == nil {
			if in := bytes.TrimSpace([]byte(s)); len(in) > 0 && in[0] == '{' && json.Valid(in) {
				return in
			}
		}
	}
	return res
}

func sessionOf(call bridge.WidgetCall) (string, error) {
	if call.Session == nil {
		return "", protocol.Errorf(protocol.CodeNoBackend, "no session for this call")
	}
	return call.Session.ID, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are marshalled
	}
	return b
}

// widgetMethod is the widget's method for bridge.late when it is not the
// attempt's own.
func widgetMethod(widget, attempt string) string {
	if widget == attempt {
		return ""
	}
	return widget
}
