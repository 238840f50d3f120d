package retry

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// CreateRecord serves enreach.xrm.createRecord (XrmCreateParams →
// XrmCreateResult).
func (e *Engine) CreateRecord(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
	var p protocol.XrmCreateParams
	in, err := begin(call, &p, &p.MaxRetries, &p.Delay, func() (err error) {
		if err = protocol.RequireEntity("entityLogicalName", p.EntityLogicalName); err != nil {
			return err
		}
		p.Data, err = protocol.NormalizeObject("data", p.Data)
		return err
	})
	if err != nil {
		return nil, err
	}
	idempotent := e.cfg.IdempotentCreates
	if p.Idempotent != nil {
		idempotent = *p.Idempotent
	}
	data, key, err := e.keyed(p.EntityLogicalName, "data", p.Data, idempotent)
	if err != nil {
		return nil, err
	}
	return e.create(ctx, call, in, createSpec{
		method: protocol.MethodXrmCreateRecord, entity: p.EntityLogicalName, key: key, idempotent: idempotent,
		attempt: correlation.Attempt{Method: protocol.MethodCreateRecord,
			Typed: &protocol.CreateRecordParams{EntityName: p.EntityLogicalName, Value: data}},
	})
}

// createSpec is one logical create as CreateRecord and Execute (a CRUD
// Create) hand it to create.
type createSpec struct {
	method     string // the widget's method, recorded in the ledger entry
	entity     string
	key        string // the logical-create key
	idempotent bool   // key is in the record's primary key
	// attempt is what each attempt sends: its method and decoded params.
	attempt correlation.Attempt
}

// create runs the attempts of a logical create and tracks it in the ledger
// (see the package doc). The result is an XrmCreateResult.
func (e *Engine) create(ctx context.Context, call bridge.WidgetCall, in callInput, c createSpec) (json.RawMessage, error) {
	lc := &logicalCreate{
		e: e, method: c.method, session: in.session, entity: c.entity, key: c.key, idempotent: c.idempotent,
		index: map[string]int{}, early: map[string]correlation.Late{},
	}
	e.track(lc)

	a := c.attempt
	a.OnLate = lc.onLate
	var resultID string
	t := e.repeat(ctx, call, a, in.set, Retryable, func(res json.RawMessage, rec *protocol.LedgerAttempt, err error) bool {
		switch {
		case err == nil:
			resultID = createdID(res)
			rec.RecordID = resultID
		case c.idempotent && isDuplicateKey(err) && lc.mayHaveLanded():
			// An earlier attempt that may have run landed with our key: that
			// is the record. (Without such an attempt the key belongs to a
			// record that was there before: a real conflict, answered as is.)
			resultID = c.key
			rec.RecordID = resultID
		default:
			lc.add(*rec)
			lc.keep(ctx, *rec)
			return false
		}
		lc.add(*rec)
		return true
	})
	if resultID != "" {
		lc.known(resultID)
	}
	entry, attempts, written := lc.finish(ctx)
	if !t.ok {
		return nil, finalError(attempts, t.lastErr, entry.ID, t.retryable)
	}
	out := protocol.XrmCreateResult{EntityType: c.entity, ID: resultID, Attempts: len(attempts)}
	if written {
		out.LedgerID = entry.ID
		out.PossibleDuplicate = entry.Status != protocol.LedgerResolved && entry.Status != protocol.LedgerCleared
	} else if lc.uncertain() {
		out.PossibleDuplicate = !c.idempotent // the ledger write failed (logged); still warn
	}
	return mustJSON(out), nil
}

// keyed returns data with the logical-create key: for an idempotent create
// the GUID in the table's primary-key column (the caller's own when data has
// one), otherwise a fresh GUID that only the ledger uses. field names data
// in errors.
func (e *Engine) keyed(entity, field string, data json.RawMessage, idempotent bool) (json.RawMessage, string, error) {
	if !idempotent {
		return data, uuid.NewString(), nil
	}
	return withPrimaryKey(data, field, e.primaryKey(entity))
}

// withPrimaryKey puts a fresh GUID in the primary-key column of data unless
// the caller supplied one, and returns the data with the key.
func withPrimaryKey(data json.RawMessage, field, column string) (json.RawMessage, string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, "", protocol.InvalidParams("%q: %v", field, err)
	}
	if raw, ok := m[column]; ok && string(raw) != "null" {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "", protocol.InvalidParams("\"%s.%s\" must be a GUID string (the record's primary key)", field, column)
		}
		id, err := uuid.Parse(s)
		if err != nil {
			return nil, "", protocol.InvalidParams("\"%s.%s\" must be a GUID (the record's primary key), got %q", field, column, s)
		}
		m[column] = mustJSON(id.String())
		return mustJSON(m), id.String(), nil
	}
	key := uuid.NewString()
	m[column] = mustJSON(key)
	return mustJSON(m), key, nil
}

// createdID reads the id of a create result {entityType,id} (object or the
// JSON string CIF resolves with).
func createdID(res json.RawMessage) string {
	var r protocol.CreateResult
	if json.Unmarshal(objectResult(res), &r) != nil {
		return ""
	}
	return strings.ToLower(r.ID)
}

// logicalCreate is the in-memory state of one logical create: it lives
// from the first attempt until every timed-out attempt has a late outcome.
type logicalCreate struct {
	e          *Engine
	method     string
	session    string
	entity     string
	key        string
	idempotent bool

	// writeMu orders ledger writes: each write carries the state at its turn.
	writeMu  sync.Mutex
	ledgerID string // set once the entry is committed; under writeMu

	// mu guards the fields below.
	mu       sync.Mutex
	attempts []protocol.LedgerAttempt
	index    map[string]int              // attempt id → position in attempts
	early    map[string]correlation.Late // late outcomes that came before add
	ids      []string                    // distinct records known to exist
	done     bool                        // the call has been answered
	answered int                         // len(ids) when it was: 1 if the widget got a record id, 0 if an error
	untrack  bool                        // removed from Engine.live
}

func (e *Engine) track(lc *logicalCreate) {
	e.mu.Lock()
	e.live[lc] = struct{}{}
	e.mu.Unlock()
}

// add records an attempt's synchronous outcome, merging a late outcome that
// came first (the late answer can race the attempt's return).
func (lc *logicalCreate) add(rec protocol.LedgerAttempt) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.index[rec.AttemptID] = len(lc.attempts)
	lc.attempts = append(lc.attempts, rec)
	if l, ok := lc.early[rec.AttemptID]; ok {
		delete(lc.early, rec.AttemptID)
		lc.applyLate(len(lc.attempts)-1, l)
	}
}

// known adds a record id that exists for this create.
func (lc *logicalCreate) known(id string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.knownLocked(id)
}

func (lc *logicalCreate) knownLocked(id string) {
	if id != "" && !slices.Contains(lc.ids, id) {
		lc.ids = append(lc.ids, id)
	}
}

// uncertain reports whether an attempt's outcome was not known when it
// returned: the create then has a ledger entry.
func (lc *logicalCreate) uncertain() bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.uncertainLocked()
}

func (lc *logicalCreate) uncertainLocked() bool {
	return slices.ContainsFunc(lc.attempts, func(a protocol.LedgerAttempt) bool {
		switch a.Outcome {
		case protocol.LedgerOutcomeTimeout, protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeLateFailure, protocol.LedgerOutcomeExpired, protocol.LedgerOutcomeUnknown:
			return true
		}
		return false
	})
}

// mayHaveLanded reports whether an attempt so far may have made the record:
// one still unanswered, answered late with success, or never settled.
func (lc *logicalCreate) mayHaveLanded() bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return slices.ContainsFunc(lc.attempts, func(a protocol.LedgerAttempt) bool {
		switch a.Outcome {
		case protocol.LedgerOutcomeTimeout, protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeExpired, protocol.LedgerOutcomeUnknown:
			return true
		}
		return false
	})
}

// onLate is the OnLate hook of every attempt of this create.
func (lc *logicalCreate) onLate(l correlation.Late) {
	if l.Elsewhere {
		// The node holding the session now settles this attempt in the
		// ledger (AdoptLate there): stop waiting for it here.
		lc.forget()
		return
	}
	lc.mu.Lock()
	i, ok := lc.index[l.Info.ID]
	if !ok {
		lc.early[l.Info.ID] = l // add merges it
		lc.mu.Unlock()
		return
	}
	lc.applyLate(i, l)
	done := lc.done
	lc.mu.Unlock()
	if done {
		ctx, cancel := context.WithTimeout(context.Background(), lc.e.cfg.LedgerWriteTimeout)
		defer cancel()
		lc.write(ctx, writeLate)
	}
}

// applyLate turns attempt i's timeout into its late outcome; lc.mu is held.
func (lc *logicalCreate) applyLate(i int, l correlation.Late) {
	a := &lc.attempts[i]
	if a.Outcome != protocol.LedgerOutcomeTimeout {
		return
	}
	if l.Expired && lc.e.stopping() {
		// The shutdown ended the late record, not the late window: the
		// outcome is as open as before. The entry stays suspected, and the
		// next start settles it (ledger.Reconcile) once the window passed.
		return
	}
	a.LateByMs = l.LateBy.Milliseconds()
	switch {
	case l.Expired:
		a.Outcome = protocol.LedgerOutcomeExpired
	case l.Err != nil:
		failure(a, l.Err)
		a.Outcome = protocol.LedgerOutcomeLateFailure
		if outcomeOpen(l.Err, true) {
			// A late "I do not know either" (the backend's own timeout, the
			// host gone with the attempt) is no failure: it may have run.
			a.Outcome = protocol.LedgerOutcomeUnknown
		}
	default:
		a.Outcome = protocol.LedgerOutcomeLateSuccess
		a.Code, a.Message, a.DataverseCode, a.HTTPStatus = 0, "", "", 0
		a.RecordID = createdID(l.Result)
		lc.knownLocked(a.RecordID)
	}
}

// status is the ledger status the state calls for ("" for no entry); lc.mu
// is held.
func (lc *logicalCreate) status() protocol.LedgerStatus {
	if !lc.uncertainLocked() {
		return ""
	}
	pending, open := 0, 0
	for _, a := range lc.attempts {
		switch a.Outcome {
		case protocol.LedgerOutcomeTimeout:
			pending++
		case protocol.LedgerOutcomeExpired, protocol.LedgerOutcomeUnknown:
			open++
		}
	}
	switch {
	case len(lc.ids) >= 2:
		return protocol.LedgerConfirmed
	case lc.idempotent && len(lc.ids) == 1:
		return protocol.LedgerResolved
	case pending > 0:
		return protocol.LedgerSuspected
	case open > 0:
		return protocol.LedgerExpiredUnknown
	}
	return protocol.LedgerCleared
}

func (lc *logicalCreate) pendingLocked() bool {
	for _, a := range lc.attempts {
		if a.Outcome == protocol.LedgerOutcomeTimeout {
			return true
		}
	}
	return false
}

// keep writes the entry as soon as a failed attempt leaves the create
// uncertain (it timed out, or its outcome is unknown), before any retry:
// the retries can take tens of seconds at CIF 1.0's timeout, and a daemon
// killed meanwhile would otherwise leave no trace of an attempt that may
// have created the record. The next start then finds the entry suspected
// and reconciles it. The widget is not told (bridge.ledger) until the
// entry settles, as at finish.
func (lc *logicalCreate) keep(ctx context.Context, rec protocol.LedgerAttempt) {
	switch rec.Outcome {
	case protocol.LedgerOutcomeTimeout, protocol.LedgerOutcomeUnknown, protocol.LedgerOutcomeExpired:
	default:
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lc.e.cfg.LedgerWriteTimeout)
	defer cancel()
	lc.write(wctx, writeKeep)
}

// finish ends the synchronous phase: it writes the ledger entry when an
// attempt timed out (committed before it returns) and returns the entry, a
// copy of the attempts, and whether an entry was written.
func (lc *logicalCreate) finish(ctx context.Context) (protocol.LedgerEntry, []protocol.LedgerAttempt, bool) {
	lc.mu.Lock()
	lc.done = true
	lc.answered = len(lc.ids)
	attempts := slices.Clone(lc.attempts)
	lc.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lc.e.cfg.LedgerWriteTimeout)
	defer cancel()
	entry, ok := lc.write(wctx, writeFinish)
	lc.mu.Lock()
	attempts = slices.Clone(lc.attempts)
	lc.mu.Unlock()
	return entry, attempts, ok
}

// writeCause is why the ledger entry is written.
type writeCause uint8

const (
	writeKeep   writeCause = iota // an attempt left the create uncertain; retries may follow
	writeFinish                   // the widget's call is answered
	writeLate                     // a late answer came after that
)

// write brings the ledger entry up to date with the state, then stops
// tracking the create once nothing is pending. The session is told with
// bridge.ledger when a late answer caused the write, or when the call's
// answer leaves the entry settled. A keep writes only a suspected entry:
// anything else (a late answer already came) waits for finish.
func (lc *logicalCreate) write(ctx context.Context, cause writeCause) (protocol.LedgerEntry, bool) {
	lc.writeMu.Lock()
	defer lc.writeMu.Unlock()
	lc.mu.Lock()
	st := lc.status()
	if cause == writeKeep && st != protocol.LedgerSuspected {
		lc.mu.Unlock()
		return protocol.LedgerEntry{}, false
	}
	attempts, ids := slices.Clone(lc.attempts), slices.Clone(lc.ids)
	// The widget was told the create failed, yet one record exists.
	unknownToWidget := lc.done && lc.answered == 0 && len(ids) == 1
	finished := lc.done && !lc.pendingLocked()
	lc.mu.Unlock()
	defer func() {
		if finished {
			lc.forget()
		}
	}()
	if st == "" {
		return protocol.LedgerEntry{}, false
	}
	var (
		entry protocol.LedgerEntry
		err   error
	)
	if lc.ledgerID == "" {
		entry, err = lc.e.cfg.Ledger.Create(ctx, protocol.LedgerEntry{
			Session: lc.session, Method: lc.method, Entity: lc.entity, Key: lc.key,
			Attempts: attempts, RecordIDs: ids, Status: st, Note: note(st, lc.idempotent, unknownToWidget),
		})
		if err == nil {
			lc.ledgerID = entry.ID
		}
	} else {
		entry, err = lc.e.cfg.Ledger.Update(ctx, lc.ledgerID, func(cur *protocol.LedgerEntry) error {
			settle(cur, st, attempts, ids, lc.idempotent, unknownToWidget)
			return nil
		})
	}
	if err != nil {
		lc.e.log.Error().Err(err).Str("session", lc.session).Str("key", lc.key).Str("status", string(st)).
			Msg("ledger write failed: a possible duplicate is only in the log")
		return protocol.LedgerEntry{}, false
	}
	lc.e.log.Info().Str("session", lc.session).Str("ledgerId", entry.ID).Str("entity", lc.entity).
		Str("status", string(entry.Status)).Strs("recordIds", entry.RecordIDs).Msg("duplicate ledger entry written")
	if cause == writeLate || cause == writeFinish && entry.Status != protocol.LedgerSuspected {
		lc.e.cfg.Bridge.Notify(lc.session, protocol.NotifyLedger, protocol.LedgerParams{Entry: entry})
	}
	return entry, true
}

// settle brings entry cur to status st with attempts and ids. An
// operator's acknowledgement stands unless new records turned up.
func settle(cur *protocol.LedgerEntry, st protocol.LedgerStatus, attempts []protocol.LedgerAttempt, ids []string, idempotent, unknownToWidget bool) {
	if cur.Status != protocol.LedgerAcknowledged || len(ids) > len(cur.RecordIDs) {
		if cur.Status != st {
			cur.Note = note(st, idempotent, unknownToWidget)
		}
		cur.Status = st
	}
	cur.Attempts, cur.RecordIDs = attempts, ids
}

func (lc *logicalCreate) forget() {
	lc.mu.Lock()
	already := lc.untrack
	lc.untrack = true
	lc.mu.Unlock()
	if already {
		return
	}
	lc.e.mu.Lock()
	delete(lc.e.live, lc)
	lc.e.mu.Unlock()
}

// note explains a status in the entry, for operators. unknownToWidget is
// true when the widget got an error yet one record exists.
func note(st protocol.LedgerStatus, idempotent, unknownToWidget bool) string {
	switch st {
	case protocol.LedgerSuspected:
		return "an attempt timed out (or the bridge stopped while the backend had it) and its outcome is not known yet: the record may exist twice"
	case protocol.LedgerConfirmed:
		return "a timed-out attempt created a record after all: recordIds lists every record of this create"
	case protocol.LedgerCleared:
		if unknownToWidget {
			return "no duplicate, but the widget was told the create failed while a timed-out attempt created the record in recordIds after all: the widget does not know it (a manual retry would duplicate it)"
		}
		return "every timed-out attempt failed or was the only record: no duplicate"
	case protocol.LedgerResolved:
		if idempotent {
			return "idempotent create: the primary key made a duplicate impossible"
		}
	case protocol.LedgerExpiredUnknown:
		return "an attempt's outcome will never be known (no answer within the late-record window, the backend's own timeout, a gateway error or a host gone mid-call): a duplicate may exist"
	}
	return ""
}
