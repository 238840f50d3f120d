package retry

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// callInput is what every enreach.xrm.* handler starts from.
type callInput struct {
	session string
	set     settings
}

// begin is the preamble of every handler: it decodes the call's params into
// p, runs check on them (validation, normalisation), resolves maxRetries and
// delay (read after decoding through the pointers to p's fields; nil means
// the call has none: the defaults) and the session.
func begin(call bridge.WidgetCall, p any, maxRetries, delay **int, check func() error) (callInput, error) {
	if err := protocol.DecodeParams(call.Params, p); err != nil {
		return callInput{}, err
	}
	if err := check(); err != nil {
		return callInput{}, err
	}
	var r, d *int
	if maxRetries != nil {
		r = *maxRetries
	}
	if delay != nil {
		d = *delay
	}
	set, err := retrySettings(r, d)
	if err != nil {
		return callInput{}, err
	}
	session, err := sessionOf(call)
	if err != nil {
		return callInput{}, err
	}
	return callInput{session: session, set: set}, nil
}

// UpdateRecord serves enreach.xrm.updateRecord (XrmUpdateParams →
// XrmUpdateResult). possiblyReapplied is true when an attempt before the one
// that succeeded may have run (it timed out, or its outcome was left open):
// the update may have been applied twice.
func (e *Engine) UpdateRecord(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
	var p protocol.XrmUpdateParams
	in, err := begin(call, &p, &p.MaxRetries, &p.Delay, func() (err error) {
		if err = firstErr(protocol.RequireEntity("entityLogicalName", p.EntityLogicalName), protocol.RequireID("id", p.ID)); err != nil {
			return err
		}
		p.Data, err = protocol.NormalizeObject("data", p.Data)
		return err
	})
	if err != nil {
		return nil, err
	}
	t := e.repeat(ctx, call, correlation.Attempt{Method: protocol.MethodUpdateRecord,
		Typed: &protocol.UpdateRecordParams{EntityName: p.EntityLogicalName, EntityID: p.ID, Value: p.Data}}, in.set, Retryable, nil)
	if err := t.err(); err != nil {
		return nil, err
	}
	attempts := t.attempts
	out := protocol.XrmUpdateResult{EntityType: p.EntityLogicalName, ID: p.ID, Attempts: len(attempts)}
	var r protocol.CreateResult
	if json.Unmarshal(objectResult(t.res), &r) == nil && r.ID != "" {
		out.ID = r.ID
		if r.EntityType != "" {
			out.EntityType = r.EntityType
		}
	}
	for _, a := range attempts {
		if a.Outcome == protocol.LedgerOutcomeTimeout || a.Outcome == protocol.LedgerOutcomeUnknown {
			out.PossiblyReapplied = true
		}
	}
	return mustJSON(out), nil
}

// RetrieveRecord serves enreach.xrm.retrieveRecord (XrmRetrieveParams → the
// record): simply retried.
func (e *Engine) RetrieveRecord(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
	var p protocol.XrmRetrieveParams
	in, err := begin(call, &p, &p.MaxRetries, &p.Delay, func() error {
		return firstErr(protocol.RequireEntity("entityLogicalName", p.EntityLogicalName), protocol.RequireID("id", p.ID))
	})
	if err != nil {
		return nil, err
	}
	t := e.repeat(ctx, call, correlation.Attempt{Method: protocol.MethodRetrieveRecord,
		Typed: &protocol.RetrieveRecordParams{EntityName: p.EntityLogicalName, EntityID: p.ID, QueryParameters: p.Options}}, in.set, Retryable, nil)
	if err := t.err(); err != nil {
		return nil, err
	}
	return objectResult(t.res), nil
}

// Execute serves enreach.xrm.execute (XrmExecuteParams → the parsed
// response body) with one attempt: Enreach documents no retry for it (no
// maxRetries or delay parameters, unlike createRecord and updateRecord), so
// the bridge never repeats it on its own. A CRUD Create is still a logical
// create like createRecord's, tracked in the ledger when its attempt times
// out, and answers an XrmCreateResult.
func (e *Engine) Execute(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
	var p protocol.XrmExecuteParams
	in, err := begin(call, &p, nil, nil, func() error {
		md := p.MetaData
		if strings.TrimSpace(md.OperationName) == "" {
			return protocol.InvalidParams("\"metaData.operationName\" is blank: name the action, function or CRUD operation (e.g. \"WhoAmI\")")
		}
		if md.OperationType < 0 || md.OperationType > 2 {
			return protocol.InvalidParams("\"metaData.operationType\" must be 0 (action), 1 (function) or 2 (CRUD), got %d", md.OperationType)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	in.set.retries = 0 // Voice for Dynamics' execute does not retry
	md := p.MetaData
	if md.OperationType == operationCRUD && strings.EqualFold(md.OperationName, "Create") {
		return e.executeCreate(ctx, call, in, p)
	}
	retryOn := NotRun
	if executeRepeatable(md) {
		retryOn = Retryable
	}
	t := e.repeat(ctx, call, correlation.Attempt{Method: protocol.BackendExecute, Typed: &p}, in.set, retryOn, nil)
	if err := t.err(); err != nil {
		return nil, err
	}
	return t.res, nil
}

// Xrm.WebApi.online.execute operation types.
const (
	operationFunction = 1
	operationCRUD     = 2
)

// executeRepeatable reports whether repeating an execute cannot change
// data: a function, or the CRUD Retrieve.
func executeRepeatable(md protocol.XrmMetaData) bool {
	return md.OperationType == operationFunction || md.OperationType == operationCRUD && strings.EqualFold(md.OperationName, "Retrieve")
}

// executeCreate runs a CRUD Create request ({etn, payload}, as Xrm's
// CreateRequest carries it) as a logical create: idempotent when
// Config.IdempotentCreates is set (the key goes into the payload's primary
// key), tracked in the ledger like createRecord's.
func (e *Engine) executeCreate(ctx context.Context, call bridge.WidgetCall, in callInput, p protocol.XrmExecuteParams) (json.RawMessage, error) {
	const shape = `{"etn":"contact","payload":{…}}`
	var req map[string]json.RawMessage
	if err := json.Unmarshal(p.Data, &req); err != nil || req == nil {
		return nil, protocol.InvalidParams("\"data\" of a CRUD Create must be an object like %s", shape)
	}
	// The entity as the backends read it (protocol.XrmCRUDData).
	d, err := protocol.DecodeXrmCRUDData(p.Data)
	if err != nil {
		return nil, err
	}
	entity := d.Entity()
	if err := protocol.RequireEntity("data.etn", entity); err != nil {
		return nil, err
	}
	field := memberName(req, "payload")
	payload, err := protocol.NormalizeObject("data.payload", req[field])
	if err != nil {
		return nil, err
	}
	idempotent := e.cfg.IdempotentCreates
	payload, key, err := e.keyed(entity, "data.payload", payload, idempotent)
	if err != nil {
		return nil, err
	}
	req[field] = payload
	p.Data = mustJSON(req)
	return e.create(ctx, call, in, createSpec{
		method: protocol.MethodXrmExecute, entity: entity, key: key, idempotent: idempotent,
		attempt: correlation.Attempt{Method: protocol.BackendExecute, Typed: &p},
	})
}

// memberName is the member of object m that encoding/json would read into a
// field tagged name: the exact name, else one equal under case folding
// ("payload" when there is none).
func memberName(m map[string]json.RawMessage, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
