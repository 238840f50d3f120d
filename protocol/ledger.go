package protocol

import (
	"slices"
	"time"
)

// The duplicate ledger's shapes: GET /api/v1/ledger (LedgerList),
// GET /api/v1/ledger/{id} (LedgerEntry), the bridge.ledger notification
// (LedgerParams) and the data of a -32005 (ExhaustedData).

// LedgerStatus is the state of a ledger entry.
type LedgerStatus string

// Ledger statuses.
const (
	LedgerSuspected      LedgerStatus = "suspected"       // an attempt timed out and its late answer is still awaited
	LedgerConfirmed      LedgerStatus = "confirmed"       // late answers prove more than one record exists (RecordIDs lists them all)
	LedgerCleared        LedgerStatus = "cleared"         // every timed-out attempt is resolved and at most one record exists
	LedgerResolved       LedgerStatus = "resolved"        // idempotent create: the primary key made a duplicate impossible
	LedgerExpiredUnknown LedgerStatus = "expired-unknown" // an attempt's outcome will never be known
	LedgerAcknowledged   LedgerStatus = "acknowledged"    // an operator looked at it
)

// LedgerStatuses lists every status, in a stable order.
var LedgerStatuses = []LedgerStatus{LedgerSuspected, LedgerConfirmed, LedgerCleared, LedgerResolved, LedgerExpiredUnknown, LedgerAcknowledged}

// Valid reports whether s is a known status.
func (s LedgerStatus) Valid() bool { return slices.Contains(LedgerStatuses, s) }

// Ledger attempt outcomes (LedgerAttempt.Outcome).
const (
	LedgerOutcomeSuccess     = OutcomeSuccess // answered in time with a result
	LedgerOutcomeFailure     = OutcomeFailure // answered in time with an error
	LedgerOutcomeTimeout     = "timeout"      // no answer in time; the late answer is still awaited
	LedgerOutcomeLateSuccess = "late-success" // timed out, then answered with a result
	LedgerOutcomeLateFailure = "late-failure" // timed out, then answered with an error
	LedgerOutcomeExpired     = "expired"      // timed out and never answered within the late-record window
	LedgerOutcomeUnknown     = "unknown"      // answered with an error that leaves open whether it ran (the backend's own timeout, a gateway 502/504, a host gone mid-call); nothing will settle it
)

// LedgerAttempt is one attempt of a logical create as the ledger records it.
type LedgerAttempt struct {
	AttemptID     string `json:"attemptId"`
	Outcome       string `json:"outcome"`                 // LedgerOutcome*
	Code          int64  `json:"code,omitempty"`          // JSON-RPC error code of a failure or timeout
	DataverseCode string `json:"dataverseCode,omitempty"` // e.g. "0x80040237"
	HTTPStatus    int    `json:"httpStatus,omitempty"`
	Message       string `json:"message,omitempty"`
	LatencyMs     int64  `json:"latencyMs"`          // from send to answer (or to the CIF timeout)
	LateByMs      int64  `json:"lateByMs,omitempty"` // for late answers: after the CIF deadline
	RecordID      string `json:"recordId,omitempty"` // the record an attempt created
}

// LedgerEntry is one logical create in the ledger: what
// GET /api/v1/ledger/{id} and the bridge.ledger notification carry.
type LedgerEntry struct {
	ID        string          `json:"id"`
	Created   time.Time       `json:"created"`
	Updated   time.Time       `json:"updated"`
	Session   string          `json:"session"`
	Method    string          `json:"method"` // e.g. "enreach.xrm.createRecord"
	Entity    string          `json:"entity"`
	Key       string          `json:"key"` // logical-create key: the idempotency GUID, or one generated for the create
	Attempts  []LedgerAttempt `json:"attempts"`
	RecordIDs []string        `json:"recordIds"` // every record known to exist for this create
	Status    LedgerStatus    `json:"status"`
	Note      string          `json:"note,omitempty"`
	// Version counts writes; every update increments it.
	Version int64 `json:"version"`
}

// LedgerAcknowledgeParams are the body of
// POST /api/v1/ledger/{id}/acknowledge (an empty body is no note).
type LedgerAcknowledgeParams struct {
	Note string `json:"note"`
}

// LedgerList is GET /api/v1/ledger.
type LedgerList struct {
	Entries []LedgerEntry `json:"entries"`
	// Totals are the whole ledger's duplicate counters, whatever the filter.
	Totals *LedgerTotals `json:"totals,omitempty"`
}

// LedgerTotals are the duplicate counters: every entry ever suspected (a
// confirmed duplicate was a suspicion first), and every entry ever
// confirmed, so Confirmed <= Suspected always holds. Retention does not
// lower them.
type LedgerTotals struct {
	Suspected int `json:"suspected"`
	Confirmed int `json:"confirmed"`
}

// ExhaustedData is the data of a -32005 (ErrRetriesExhausted): every
// attempt, and the ledger entry when an attempt may have created the record
// after all.
type ExhaustedData struct {
	Attempts  []LedgerAttempt `json:"attempts"`
	LedgerID  string          `json:"ledgerId,omitempty"`
	LastError *Error          `json:"lastError,omitempty"`
}
