package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/panel"
	"github.com/cifbridge/cifbridge/protocol"
)

// prepared is a validated call: the entity it touches (for fault rules) and
// the operation to run once the faults let it through.
type prepared struct {
	entity string
	run    func() (json.RawMessage, error)
	// create, when set instead of run, is a create of ent: the hottest
	// operation runs without a closure allocated per call.
	create *writeSet
	ent    *entity
	// at, when not zero, is the time the create's createdon and modifiedon
	// say (the call's, see run); zero: the emulator's clock now.
	at time.Time
}

// do runs the operation.
func (e *Emulator) do(p *prepared) (json.RawMessage, error) {
	if p.create != nil {
		defer p.create.release()
		return e.runCreate(p.ent, p.create, p.at)
	}
	return p.run()
}

type handler func(e *Emulator, a *correlation.Attempt) (prepared, error)

// handlers maps CIF messageTypes (protocol.MessageType) to their handler.
var handlers = map[string]handler{
	"createrecord":         (*Emulator).prepCreate,
	"retrieverecord":       (*Emulator).prepRetrieve,
	"updaterecord":         (*Emulator).prepUpdate,
	"deleterecord":         (*Emulator).prepDelete,
	"search":               (*Emulator).prepSearch,
	"searchandopenrecords": (*Emulator).prepSearch,
	"getenvironment":       constant(func(e *Emulator) json.RawMessage { return e.environment() }),
	"getEntityMetadata":    (*Emulator).prepMetadata,
	"openform":             constant(func(*Emulator) json.RawMessage { return json.RawMessage(`{"savedEntityReference":[]}`) }),
	"refreshform":          constant(func(*Emulator) json.RawMessage { return json.RawMessage(`{}`) }),
	"renderSearchPage":     constant(func(*Emulator) json.RawMessage { return json.RawMessage(`null`) }),
	"execute":              (*Emulator).prepExecute,
}

// opIndex numbers the messageTypes of handlers: counters.opCount[i]
// counts the operations of messageType i.
var opIndex = map[string]int{}

func init() {
	for _, mt := range panel.MessageTypes {
		handlers[mt] = (*Emulator).prepPanel
	}
	for mt := range handlers {
		opIndex[mt] = len(opIndex)
	}
}

func constant(f func(e *Emulator) json.RawMessage) handler {
	return func(e *Emulator, _ *correlation.Attempt) (prepared, error) {
		return prepared{run: func() (json.RawMessage, error) { return f(e), nil }}, nil
	}
}

// Execute implements backend.Backend: it validates the call, applies the
// fault profile (latency, error, drop), runs the operation on the store and
// returns the CIF result shape. A delayed operation completes at the end of
// its latency even when ctx ends first; a dropped one is never executed and
// Execute returns ctx.Err() when ctx ends.
func (e *Emulator) Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	res, err, rest := e.begin(ctx, a, false)
	if rest != nil {
		return rest(ctx, a)
	}
	return res, err
}

// Begin implements backend.Prompt: Execute up to the fault profile's
// decision. An operation no rule delays or drops runs at once and Begin
// returns its answer; otherwise it returns the rest of Execute (the wait,
// then the operation), the decision already taken, for the caller to run
// on a goroutine that may wait.
//
// An answer at once sets a.Answered (DoBegin's copy of the attempt is
// Begin's own) when the emulator runs on the real clock (Config.Now nil):
// the one clock read after the operation serves the emulator's late count,
// the bridge's CIF deadline check and its metrics. Such a call's createdon
// and modifiedon are then a.Started, when the call was received, a few
// microseconds before it runs: to the second, when the record was made.
func (e *Emulator) Begin(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
	return e.begin(ctx, a, true)
}

// begin is Begin; own tells that a is the caller's copy for this call
// alone, which an answer at once may fill in (Execute's is the table's
// entry, which listings read meanwhile).
func (e *Emulator) begin(ctx context.Context, a *correlation.Attempt, own bool) (json.RawMessage, error, correlation.Exec) {
	mt := protocol.MessageType(a.Method)
	h := handlers[mt]
	if h == nil {
		return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: the emulator does not serve %q", a.Method), nil
	}
	p, err := h(e, a)
	if err != nil {
		return nil, e.wireError(mt, err), nil
	}
	d := e.faults.decide(mt, p.entity)
	if d.waits() {
		q := p // a copy: p itself stays on the stack of the calls that run at once
		return nil, nil, func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			return e.run(ctx, a, mt, &q, d, false)
		}
	}
	res, err := e.run(ctx, a, mt, &p, d, own && e.realClock && !a.Started.IsZero())
	return res, err, nil
}

// promptOps are the operations Prompt may promise: bounded work on the
// in-memory store (a search or an xrm execute may scan or write many
// records, so they keep a goroutine of their own).
var promptOps = map[string]bool{
	"createrecord": true, "retrieverecord": true, "updaterecord": true, "deleterecord": true,
	"getenvironment": true, "getEntityMetadata": true,
	"setclicktoact": true, "getclicktoact": true, "setmode": true, "getmode": true, "setwidth": true, "getwidth": true,
}

// Prompt implements backend.Prompt: the store's bounded operations answer
// at once unless a fault rule may delay or drop them.
func (e *Emulator) Prompt(method string) bool {
	return promptOps[protocol.MessageType(method)] && !e.faults.waits.Load()
}

// run applies decision d to the prepared operation p of a (a messageType
// mt) and runs it. told is true for a call answered at once on the real
// clock whose attempt is the caller's own copy (Begin): the operation then
// takes its time from a.Started, and the clock is read once, after it ran,
// into a.Answered, which the late count uses too.
func (e *Emulator) run(ctx context.Context, a *correlation.Attempt, mt string, p *prepared, d decision, told bool) (json.RawMessage, error) {
	if err := e.gate(ctx, d); err != nil {
		if p.create != nil {
			p.create.release()
		}
		if d := (*dvError)(nil); errors.As(err, &d) {
			// An injected error is an answer too: past the deadline the
			// bridge sends bridge.late for it like for a late success.
			e.answered(a.Deadline, e.ended(a, told))
		}
		return nil, e.wireError(mt, err)
	}
	if told {
		p.at = a.Started
	}
	res, err := e.do(p)
	e.completedAt(mt, a.Deadline, e.ended(a, told))
	ev := e.log.Debug().Str("method", a.Method).Str("entity", p.entity)
	if a.ID != "" { // an attempt answered at once may have no name (correlation.Attempt.Unnamed)
		ev = ev.Str("attempt", a.ID)
	}
	ev.Str("session", a.Session).Bool("ok", err == nil).Msg("emulator operation")
	if err != nil {
		return nil, e.wireError(mt, err)
	}
	return res, nil
}

// gate applies the fault profile's decision d to one operation. It returns
// nil when the operation may run, a *dvError for an injected error, or
// ctx's error for a drop. Latency is waited out in full, ignoring ctx, with
// a timer (so it works inside testing/synctest bubbles).
func (e *Emulator) gate(ctx context.Context, d decision) error {
	if d.rule < 0 {
		return nil
	}
	e.stats.add(func(c *counters) { c.faultsApplied++ })
	if d.drop {
		e.stats.add(func(c *counters) { c.dropped++ })
		<-ctx.Done()
		return ctx.Err()
	}
	if d.delay > 0 {
		e.stats.add(func(c *counters) { c.delayed++ })
		t := time.NewTimer(d.delay)
		<-t.C
	}
	if d.err != nil {
		e.stats.add(func(c *counters) { c.injectedErrors++ })
		return &injectedError{dvError{Status: d.err.Status, Code: d.err.Code, Message: d.err.Message},
			time.Duration(d.err.RetryAfterMs) * time.Millisecond}
	}
	return nil
}

// injectedError is a fault rule's Dataverse error and the Retry-After its
// answer carries (zero: none).
type injectedError struct {
	dvError
	retryAfter time.Duration
}

func (e *injectedError) Unwrap() error { return &e.dvError }

// retryAfterSeconds is d as a Retry-After header value: whole seconds,
// rounded up.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// ended is when the operation of a ended, for the late count: for a call
// run told (see run), the one clock read after it, kept in a.Answered;
// else zero, and the late count reads the emulator's clock.
func (e *Emulator) ended(a *correlation.Attempt, told bool) time.Time {
	if !told {
		return time.Time{}
	}
	a.Answered = a.Now()
	return a.Answered
}

// completed counts an executed operation and, past deadline, a late one.
func (e *Emulator) completed(method string, deadline time.Time) {
	e.completedAt(method, deadline, time.Time{})
}

// completedAt is completed for an operation that ended at now (zero: the
// emulator's clock now).
func (e *Emulator) completedAt(method string, deadline, now time.Time) {
	if i, ok := opIndex[method]; ok {
		e.stats.opCount[i].Add(1) // no lock for the count of every call
	} else {
		e.stats.add(func(c *counters) { c.ops[method]++ })
	}
	e.answered(deadline, now)
}

// answered counts an answer that came past deadline (now, or the
// emulator's clock now when zero) as a late one; it alone counts an answer
// that executed nothing (an injected error).
func (e *Emulator) answered(deadline, now time.Time) {
	if deadline.IsZero() {
		return
	}
	if now.IsZero() {
		now = e.now()
	}
	if now.After(deadline) {
		e.stats.add(func(c *counters) { c.late++ })
	}
}

// wireError maps a *dvError to the -32001 backend error; protocol errors
// and context errors pass through.
func (e *Emulator) wireError(method string, err error) error {
	var d *dvError
	if errors.As(err, &d) {
		be := protocol.NewBackendError(d.Status, d.Code, d.Message, protocol.SourceFunc(method), e.now().UTC().Format(http.TimeFormat))
		if ie := (*injectedError)(nil); errors.As(err, &ie) && ie.retryAfter > 0 {
			data, _ := protocol.BackendData(be)
			data.RetryAfterMs = ie.retryAfter.Milliseconds()
			be = protocol.NewError(protocol.CodeBackend, d.Message, data)
		}
		return be
	}
	return err
}

func jsonResult(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInternal, "encode result: %v", err)
	}
	return b, nil
}

func (e *Emulator) entityParam(name string) (*entity, error) {
	if err := protocol.RequireEntity("entityName", name); err != nil {
		return nil, err
	}
	ent, derr := e.cat.entity(name)
	if derr != nil {
		return nil, derr
	}
	return ent, nil
}

func idParam(field, id string) (string, error) {
	if err := protocol.RequireID(field, id); err != nil {
		return "", err
	}
	n, ok := normalizeID(id)
	if !ok {
		return "", protocol.InvalidParams("%q must be a GUID, got %q", field, id)
	}
	return n, nil
}

// createResult is CIF's create result, protocol.CreateResult, encoded
// directly: it answers every create.
func createResult[ID string | []byte](ent *entity, id ID) (json.RawMessage, error) {
	b := make([]byte, 0, len(ent.resultPrefix)+len(id)+3)
	b = append(b, ent.resultPrefix...)
	b, err := jsontext.AppendQuote(b, id)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInternal, "encode result: %v", err)
	}
	return append(b, '}'), nil
}

// target resolves the entity of a call and, when id is not nil, the GUID of
// the record it names.
func (e *Emulator) target(name string, id *string) (*entity, string, error) {
	ent, err := e.entityParam(name)
	if err != nil || id == nil {
		return ent, "", err
	}
	n, err := idParam("entityId", *id)
	return ent, n, err
}

// writeBody parses a create/update value (the params member named field)
// against the entity's metadata. value is valid JSON: it comes out of a
// validating decoder (DecodeParams, the bridge's typed params, which
// correlation.Attempt.Typed promises are validated, or json.Unmarshal), and
// a string holding the object is checked by NormalizeObject. So the body
// is scanned without validating it a third time.
func (e *Emulator) writeBody(ent *entity, field string, value json.RawMessage) (*writeSet, error) {
	body, err := protocol.NormalizeObject(field, value)
	if err != nil {
		return nil, err
	}
	ws, derr := parseValidWrite(ent, body, e.cat)
	if derr != nil {
		return nil, derr
	}
	return ws, nil
}

// The record operations of the CIF calls and of xrm.execute's CRUD
// requests, run once the fault profile lets them through. Writes go through
// duplicate detection as CIF writes do.

func (e *Emulator) createOp(ent *entity, ws *writeSet) prepared {
	return prepared{entity: ent.LogicalName, create: ws, ent: ent}
}

func (e *Emulator) runCreate(ent *entity, ws *writeSet, at time.Time) (json.RawMessage, error) {
	r, derr := e.create(ent, ws, writeOpts{dupDetect: true, onCIF: true, at: at})
	if derr != nil {
		return nil, derr
	}
	return createResultGUID(ent, r.id), nil
}

// createResultGUID is createResult for the record of key k. The stored
// key's text is k's canonical form (a new GUID is formatted so, and
// parseWrite stores a given key as uuid.UUID.String): lowercase hex digits
// and hyphens, which JSON quotes as they are, so it is appended between
// quotes without the encoder's escaping pass.
func createResultGUID(ent *entity, k uuid.UUID) json.RawMessage {
	b := make([]byte, 0, len(ent.resultPrefix)+36+3)
	b = append(b, ent.resultPrefix...)
	b = append(b, '"')
	b = appendGUID(b, k)
	return append(b, '"', '}')
}

func (e *Emulator) retrieveOp(ent *entity, id string, q *query) prepared {
	return prepared{entity: ent.LogicalName, run: func() (json.RawMessage, error) {
		rec, derr := e.retrieve(ent, id, q)
		if derr != nil {
			return nil, derr
		}
		return jsonResult(rec)
	}}
}

func (e *Emulator) updateOp(ent *entity, id string, ws *writeSet) prepared {
	return prepared{entity: ent.LogicalName, run: func() (json.RawMessage, error) {
		if _, _, derr := e.update(ent, id, ws, false, writeOpts{dupDetect: true, onCIF: true}); derr != nil {
			return nil, derr
		}
		return createResult(ent, id)
	}}
}

func (e *Emulator) deleteOp(ent *entity, id string) prepared {
	return prepared{entity: ent.LogicalName, run: func() (json.RawMessage, error) {
		if derr := e.remove(ent, id); derr != nil {
			return nil, derr
		}
		return createResult(ent, id)
	}}
}

func (e *Emulator) prepCreate(a *correlation.Attempt) (prepared, error) {
	p, err := backend.Params[protocol.CreateRecordParams](a)
	if err != nil {
		return prepared{}, err
	}
	ent, _, err := e.target(p.EntityName, nil)
	if err != nil {
		return prepared{}, err
	}
	ws, err := e.writeBody(ent, "value", p.Value)
	if err != nil {
		return prepared{}, err
	}
	return e.createOp(ent, ws), nil
}

func (e *Emulator) prepRetrieve(a *correlation.Attempt) (prepared, error) {
	p, err := backend.Params[protocol.RetrieveRecordParams](a)
	if err != nil {
		return prepared{}, err
	}
	ent, id, err := e.target(p.EntityName, &p.EntityID)
	if err != nil {
		return prepared{}, err
	}
	q, derr := parseQuery(e.cat, ent, p.QueryParameters)
	if derr != nil {
		return prepared{}, derr
	}
	return e.retrieveOp(ent, id, q), nil
}

func (e *Emulator) prepUpdate(a *correlation.Attempt) (prepared, error) {
	p, err := backend.Params[protocol.UpdateRecordParams](a)
	if err != nil {
		return prepared{}, err
	}
	ent, id, err := e.target(p.EntityName, &p.EntityID)
	if err != nil {
		return prepared{}, err
	}
	ws, err := e.writeBody(ent, "value", p.Value)
	if err != nil {
		return prepared{}, err
	}
	return e.updateOp(ent, id, ws), nil
}

func (e *Emulator) prepDelete(a *correlation.Attempt) (prepared, error) {
	p, err := backend.Params[protocol.RecordParams](a)
	if err != nil {
		return prepared{}, err
	}
	ent, id, err := e.target(p.EntityName, &p.EntityID)
	if err != nil {
		return prepared{}, err
	}
	return e.deleteOp(ent, id), nil
}

func (e *Emulator) prepSearch(a *correlation.Attempt) (prepared, error) {
	p, err := backend.Params[protocol.SearchParams](a)
	if err != nil {
		return prepared{}, err
	}
	ent, _, err := e.target(p.EntityName, nil)
	if err != nil {
		return prepared{}, err
	}
	if doc, ok, derr := cutFetchXML(p.QueryParameters); ok { // Xrm.WebApi.retrieveMultipleRecords takes ?fetchXml= too
		if derr != nil {
			return prepared{}, derr
		}
		fq, derr := e.parseFetch(ent, doc)
		if derr != nil {
			return prepared{}, derr
		}
		return prepared{entity: ent.LogicalName, run: func() (json.RawMessage, error) { return e.searchFetch(fq) }}, nil
	}
	q, derr := parseQuery(e.cat, ent, protocol.CutSearch(p.QueryParameters)) // $search is only CIF's search-page text
	if derr != nil {
		return prepared{}, derr
	}
	return prepared{entity: ent.LogicalName, run: func() (json.RawMessage, error) {
		if q.apply != nil {
			return e.searchFetch(q.apply)
		}
		return searchResult(e.search(ent, q, protocol.MaxSearchRecords))
	}}, nil
}

// searchFetch runs a FetchXML or $apply query for a CIF search and answers
// its rows as a search result.
func (e *Emulator) searchFetch(q *fetchQuery) (json.RawMessage, error) {
	res, derr := e.runFetch(q)
	if derr != nil {
		return nil, derr
	}
	return searchResult(res.rows)
}

func (e *Emulator) prepMetadata(a *correlation.Attempt) (prepared, error) {
	p, err := backend.Params[protocol.EntityMetadataParams](a)
	if err != nil {
		return prepared{}, err
	}
	ent, _, err := e.target(p.EntityName, nil)
	if err != nil {
		return prepared{}, err
	}
	return prepared{entity: ent.LogicalName, run: func() (json.RawMessage, error) {
		return jsonResult(entityMetadata(ent, p.Attributes))
	}}, nil
}

// entityMetadataResult is Xrm.Utility.getEntityMetadata flattened.
type entityMetadataResult struct {
	LogicalName          string                       `json:"LogicalName"`
	EntitySetName        string                       `json:"EntitySetName"`
	PrimaryIDAttribute   string                       `json:"PrimaryIdAttribute"`
	PrimaryNameAttribute string                       `json:"PrimaryNameAttribute"`
	Attributes           []protocol.AttributeMetadata `json:"Attributes"`
}

// entityMetadata answers getEntityMetadata; attrs, when given, limits the
// Attributes to those names (unknown names are left out, as Xrm does).
func entityMetadata(ent *entity, attrs []string) entityMetadataResult {
	res := entityMetadataResult{
		LogicalName: ent.LogicalName, EntitySetName: ent.EntitySetName,
		PrimaryIDAttribute: ent.PrimaryIDAttribute, PrimaryNameAttribute: ent.PrimaryNameAttribute,
		Attributes: []protocol.AttributeMetadata{},
	}
	want := func(string) bool { return true }
	if len(attrs) > 0 {
		set := map[string]bool{}
		for _, a := range attrs {
			set[a] = true
		}
		want = func(a string) bool { return set[a] }
	}
	for _, a := range ent.Attributes {
		if want(a) {
			res.Attributes = append(res.Attributes, protocol.AttributeMetadata{LogicalName: a, EntityLogicalName: ent.LogicalName, AttributeType: ent.attributeType(a)})
		}
	}
	for _, l := range ent.lookupNames() {
		if want(l) {
			res.Attributes = append(res.Attributes, protocol.AttributeMetadata{LogicalName: l, EntityLogicalName: ent.LogicalName,
				AttributeType: ent.attributeType(l), Targets: ent.Lookups[l]})
		}
	}
	return res
}
