// Package backend defines the one interface every executor of CIF calls
// implements: the embedded Dataverse emulator, a host peer, a real Dataverse
// org. The bridge's correlation table calls Execute once per attempt.
package backend

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// Call is one attempt of a CIF operation.
type Call struct {
	// Session is the widget session the call belongs to.
	Session string
	// AttemptID identifies this attempt across logs, captures and bridge.late.
	AttemptID string
	// Method is the wire method, e.g. "cif.createrecord" or
	// protocol.BackendExecute ("xrm.execute").
	Method string
	// Params is the named-params object, already validated by the bridge
	// (entity names present, record values normalised to JSON objects).
	Params json.RawMessage
	// Typed, when set, is Params already decoded and validated by the bridge:
	// a pointer to the protocol params struct of Method (e.g.
	// *protocol.CreateRecordParams). A backend that would decode Params into
	// that type uses it instead and saves a second decode; it must not modify
	// it. It is nil for methods without a params struct and for callers that
	// did not decode.
	Typed any
	// Deadline is the CIF deadline of this attempt. Execute's ctx lives
	// longer (until the late-record window ends) so that a slow operation can
	// still report its outcome; backends use Deadline only to account for
	// completions after the timeout (emulator ground truth).
	Deadline time.Time
}

// Backend executes calls. Implementations must be safe for concurrent use.
type Backend interface {
	// Name is a short name for logs and metrics: "emulator", "host", "dataverse".
	Name() string
	// Execute runs one attempt and returns its result (the CIF result shape,
	// a JSON value) or an error. Errors are *protocol.Error values:
	// -32001 for a Dataverse error (with BackendErrorData), -32002 when
	// nobody can execute calls for this session, -32602 for bad params.
	// Execute returns when the operation finished or ctx ended, whichever is
	// first; an operation that cannot be cancelled may complete afterwards.
	Execute(ctx context.Context, call Call) (json.RawMessage, error)
}

// Func adapts a function to Backend (tests, small adapters).
type Func struct {
	N string
	F func(ctx context.Context, call Call) (json.RawMessage, error)
}

func (f Func) Name() string { return f.N }

func (f Func) Execute(ctx context.Context, call Call) (json.RawMessage, error) { return f.F(ctx, call) }

// Checker is implemented by backends that can tell whether they are able to
// serve calls right now (a real org: token obtainable, Web API reachable).
// /readyz calls Check with a short deadline and reports 503 when it fails.
// /readyz is open to anyone who reaches the daemon, so it never shows what
// an upstream sent: it shows a *CheckError's Reason, else only the error's
// code (and HTTP status); the whole error goes to the daemon's log.
// Backends without it are ready whenever the bridge is.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckError is a failed Check: Reason, in the backend's own words with
// nothing an upstream sent, is what /readyz shows; Err is the whole error.
type CheckError struct {
	Reason string
	Err    error
}

func (e *CheckError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Params returns the call's params as a *P: call.Typed when the bridge
// already decoded them into that type, else a strict decode of call.Params
// (protocol.DecodeParams). The result must be treated as read-only.
func Params[P any](call Call) (*P, error) {
	if p, ok := call.Typed.(*P); ok && p != nil {
		return p, nil
	}
	p := new(P)
	if err := protocol.DecodeParams(call.Params, p); err != nil {
		return nil, err
	}
	return p, nil
}
