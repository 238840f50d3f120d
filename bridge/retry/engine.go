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
	// Attempt runs one attempt under the session's CIF timeout and returns
	// the attempt id with the outcome.
	Attempt(ctx context.Context, r bridge.AttemptRequest) (json.RawMessage, string, error)
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
	Ledger *ledger.Ledger
	// Keys resolves primary-key columns for idempotent creates; nil (or an
	// unknown entity) falls back to BuiltinPrimaryKey.
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
func Retryable(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case protocol.CodeTimeout, protocol.CodeNoBackend, protocol.CodeOverloaded:
		return true
	case protocol.CodeBackend:
		d, ok := protocol.BackendData(err)
		if !ok {
			return false
		}
		switch d.DataverseCode {
		case codeDuplicateRule, codeNotFound, codeDuplicateKey:
			return false
		}
		switch d.HTTPStatus {
		case 429, 502, 503, 504:
			return true
		}
	}
	return false
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
// backend's Retry-After when that is longer (bounded by protocol.MaxDelayMs).
func waitBefore(delay time.Duration, lastErr error) time.Duration {
	if d, ok := protocol.BackendData(lastErr); ok && d.RetryAfterMs > 0 {
		ra := time.Duration(min(d.RetryAfterMs, protocol.MaxDelayMs)) * time.Millisecond
		delay = max(delay, ra)
	}
	return delay
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

// attempt runs one attempt and describes it for the ledger and -32005 data.
// unanswered is true when no answer came (CIF timeout, or the caller went
// away): a late answer may still follow through onLate.
func (e *Engine) attempt(ctx context.Context, call bridge.WidgetCall, method string, params json.RawMessage, onLate func(correlation.Late)) (res json.RawMessage, rec ledger.Attempt, unanswered bool, err error) {
	start := time.Now()
	res, id, err := e.cfg.Bridge.Attempt(ctx, bridge.AttemptRequest{
		Session: call.Session, RequestID: call.RequestID, Method: method, Params: params, OnLate: onLate,
	})
	rec = ledger.Attempt{AttemptID: id, LatencyMs: time.Since(start).Milliseconds()}
	if err == nil {
		rec.Outcome = ledger.OutcomeSuccess
		return res, rec, false, nil
	}
	pe := protocol.AsError(err)
	rec.Code, rec.Message = pe.Code, pe.Message
	if d, ok := protocol.BackendData(err); ok {
		rec.DataverseCode, rec.HTTPStatus = d.DataverseCode, d.HTTPStatus
	}
	rec.Outcome = ledger.OutcomeFailure
	switch {
	case pe.Code == protocol.CodeTimeout:
		rec.Outcome, unanswered = ledger.OutcomeTimeout, true
	case ctx.Err() != nil && pe.Code != protocol.CodeBackend && pe.Code != protocol.CodeShuttingDown:
		// The caller went away mid-attempt: the correlation table keeps it
		// as an abandoned late record whose answer still comes to onLate.
		rec.Outcome, unanswered = ledger.OutcomeTimeout, true
	}
	return nil, rec, unanswered, err
}

// ExhaustedData is the data of a -32005 error.
type ExhaustedData struct {
	Attempts  []ledger.Attempt `json:"attempts"`
	LedgerID  string           `json:"ledgerId,omitempty"`
	LastError *protocol.Error  `json:"lastError,omitempty"`
}

// finalError is what the widget gets when no attempt succeeded: the single
// attempt's own error, or -32005 listing every attempt.
func finalError(attempts []ledger.Attempt, last error, ledgerID string, retryable bool) error {
	if len(attempts) == 1 && ledgerID == "" {
		return last
	}
	lastErr := protocol.AsError(last)
	msg := fmt.Sprintf("retries exhausted: all %d attempts failed; the last with %d: %s", len(attempts), lastErr.Code, lastErr.Message)
	if !retryable {
		msg = fmt.Sprintf("retries stopped: attempt %d failed with a non-retryable error %d: %s", len(attempts), lastErr.Code, lastErr.Message)
	}
	if ledgerID != "" {
		msg += "; an attempt timed out, so the record may exist: see ledger entry " + ledgerID
	}
	return protocol.NewError(protocol.CodeRetriesExhausted, msg, ExhaustedData{Attempts: attempts, LedgerID: ledgerID, LastError: lastErr})
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
