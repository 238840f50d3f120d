package retry

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// UpdateRecord serves enreach.xrm.updateRecord (XrmUpdateParams →
// XrmUpdateResult). possiblyReapplied is true when an attempt timed out
// before the one that succeeded: the update may have been applied twice.
func (e *Engine) UpdateRecord(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
	var p protocol.XrmUpdateParams
	if err := protocol.DecodeParams(call.Params, &p); err != nil {
		return nil, err
	}
	if err := firstErr(protocol.RequireEntity("entityLogicalName", p.EntityLogicalName), protocol.RequireID("id", p.ID)); err != nil {
		return nil, err
	}
	data, err := protocol.NormalizeObject("data", p.Data)
	if err != nil {
		return nil, err
	}
	set, err := retrySettings(p.MaxRetries, p.Delay)
	if err != nil {
		return nil, err
	}
	if _, err := sessionOf(call); err != nil {
		return nil, err
	}
	params := mustJSON(protocol.UpdateRecordParams{EntityName: p.EntityLogicalName, EntityID: p.ID, Value: data})
	res, attempts, err := e.simple(ctx, call, protocol.MethodUpdateRecord, params, set)
	if err != nil {
		return nil, err
	}
	out := protocol.XrmUpdateResult{EntityType: p.EntityLogicalName, ID: p.ID, Attempts: len(attempts)}
	var r protocol.CreateResult
	if json.Unmarshal(objectResult(res), &r) == nil && r.ID != "" {
		out.ID = r.ID
		if r.EntityType != "" {
			out.EntityType = r.EntityType
		}
	}
	for _, a := range attempts {
		if a.Outcome == ledger.OutcomeTimeout {
			out.PossiblyReapplied = true
		}
	}
	return mustJSON(out), nil
}

// RetrieveRecord serves enreach.xrm.retrieveRecord (XrmRetrieveParams → the
// record): simply retried.
func (e *Engine) RetrieveRecord(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
	var p protocol.XrmRetrieveParams
	if err := protocol.DecodeParams(call.Params, &p); err != nil {
		return nil, err
	}
	if err := firstErr(protocol.RequireEntity("entityLogicalName", p.EntityLogicalName), protocol.RequireID("id", p.ID)); err != nil {
		return nil, err
	}
	set, err := retrySettings(p.MaxRetries, p.Delay)
	if err != nil {
		return nil, err
	}
	if _, err := sessionOf(call); err != nil {
		return nil, err
	}
	params := mustJSON(protocol.RetrieveRecordParams{EntityName: p.EntityLogicalName, EntityID: p.ID, QueryParameters: p.Options})
	res, _, err := e.simple(ctx, call, protocol.MethodRetrieveRecord, params, set)
	if err != nil {
		return nil, err
	}
	return objectResult(res), nil
}

// Execute serves enreach.xrm.execute (XrmExecuteParams → the parsed
// response body). Only functions and the CRUD Retrieve are retried (see the
// package doc).
func (e *Engine) Execute(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
	var p protocol.XrmExecuteParams
	if err := protocol.DecodeParams(call.Params, &p); err != nil {
		return nil, err
	}
	md := p.MetaData
	if strings.TrimSpace(md.OperationName) == "" {
		return nil, protocol.InvalidParams("\"metaData.operationName\" is blank: name the action, function or CRUD operation (e.g. \"WhoAmI\")")
	}
	if md.OperationType < 0 || md.OperationType > 2 {
		return nil, protocol.InvalidParams("\"metaData.operationType\" must be 0 (action), 1 (function) or 2 (CRUD), got %d", md.OperationType)
	}
	if _, err := sessionOf(call); err != nil {
		return nil, err
	}
	set := settings{}
	if executeRetryable(md) {
		set, _ = retrySettings(nil, nil)
	}
	res, _, err := e.simple(ctx, call, protocol.BackendExecute, mustJSON(p), set)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// executeRetryable reports whether repeating an execute cannot change data.
func executeRetryable(md protocol.XrmMetaData) bool {
	return md.OperationType == 1 || md.OperationType == 2 && strings.EqualFold(md.OperationName, "Retrieve")
}

// simple runs the attempts of a call that needs no ledger (update, retrieve,
// execute) and returns the first success with every attempt, or the final
// error.
func (e *Engine) simple(ctx context.Context, call bridge.WidgetCall, method string, params json.RawMessage, set settings) (json.RawMessage, []ledger.Attempt, error) {
	var (
		attempts  []ledger.Attempt
		lastErr   error
		retryable = true
	)
	for i := 0; i <= set.retries; i++ {
		if i > 0 {
			if err := sleep(ctx, waitBefore(set.delay, lastErr)); err != nil {
				lastErr, retryable = err, false
				break
			}
		}
		res, rec, _, err := e.attempt(ctx, call, method, params, nil)
		attempts = append(attempts, rec)
		if err == nil {
			return res, attempts, nil
		}
		lastErr = err
		if !Retryable(err) || ctx.Err() != nil {
			retryable = false
			break
		}
	}
	return nil, attempts, finalError(attempts, lastErr, "", retryable)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
