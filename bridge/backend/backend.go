// Package backend defines the one interface every executor of CIF calls
// implements: the embedded Dataverse emulator, a host peer, a real Dataverse
// org. The bridge's correlation table calls Execute once per attempt, with
// the attempt itself (correlation.Attempt): the params come decoded when the
// bridge decoded them, so a backend never decodes a record twice.
package backend

import (
	"context"
	"encoding/json"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// Backend executes attempts. Implementations must be safe for concurrent use.
type Backend interface {
	// Name is a short name for logs and metrics: "emulator", "host", "dataverse".
	Name() string
	// Execute runs one attempt and returns its result (the CIF result shape,
	// a JSON value) or an error. a is read-only. Errors are *protocol.Error
	// values: -32001 for a Dataverse error (with BackendErrorData), -32002
	// when nobody can execute calls for this session, -32602 for bad params.
	// Execute returns when the operation finished or ctx ended, whichever is
	// first; an operation that cannot be cancelled may complete afterwards.
	Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error)
}

// Prompt is implemented by a backend that answers many attempts at once,
// from memory (the emulator): the bridge then runs such an attempt on the
// goroutine that read the widget's request, without a goroutine of its own
// (correlation.Table.DoBegin).
type Prompt interface {
	Backend
	// Prompt reports whether attempts of method are answered at once now:
	// bounded in-memory work, no wait on a peer or a timer. While it says
	// so, the widget connection's reader runs such calls itself.
	Prompt(method string) bool
	// Begin is a correlation.Begin: Execute, up to the point where the
	// attempt would have to wait; see correlation.Begin.
	Begin(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec)
}

// Func adapts a function to Backend (tests, small adapters).
type Func struct {
	N string
	F func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error)
}

func (f Func) Name() string { return f.N }

func (f Func) Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	return f.F(ctx, a)
}

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

// Params returns the attempt's params as a *P: a.Typed when the bridge
// already decoded them into that type, else a strict decode of a.Params
// (protocol.DecodeParams). The result must be treated as read-only.
func Params[P any](a *correlation.Attempt) (*P, error) {
	if p, ok := a.Typed.(*P); ok && p != nil {
		return p, nil
	}
	p := new(P)
	if err := protocol.DecodeParams(a.Params, p); err != nil {
		return nil, err
	}
	return p, nil
}
