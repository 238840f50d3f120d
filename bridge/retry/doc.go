// Package retry is the retry engine behind enreach.xrm.createRecord,
// updateRecord, retrieveRecord and execute (DESIGN §5). It runs each call as
// a series of attempts through the bridge's correlation table
// (bridge.Server.Attempt), waits a fixed delay between them (or the
// backend's Retry-After when longer), retries only what is retryable, and —
// for creates — tracks every logical create whose attempt timed out in the
// durable duplicate ledger, driven by the late answers of those attempts.
//
// Entry points: New builds an Engine from a Config; (*Engine).Register adds
// its methods to a bridge.Server; CreateRecord, UpdateRecord, RetrieveRecord
// and Execute are the handlers; Retryable is the retry policy.
//
// # Retry policy
//
// Retried: -32000 CIF timeout, -32002 no backend/host gone, -32003
// overloaded, and -32001 backend errors with HTTP status 429, 502, 503 or
// 504. Never retried: invalid params (-32602), not found (404, 0x80040217),
// duplicate detection (0x80040333), duplicate key (412, 0x80040237) except
// for idempotent creates (below), shutting down (-32007) and anything else.
// Of the retried errors, -32003, 429 and 503 prove the operation never ran
// (NotRun); -32000, 502 and 504 leave open whether it ran. The pause between
// attempts is the call's delay, or the error's data.retryAfterMs when that
// is longer. When a call stops after a single attempt the widget gets that
// attempt's error unchanged; after several it gets -32005 whose data lists
// every attempt ({"attempts":[…],"ledgerId"?,"lastError"}).
//
// # Creates
//
// Every create has a logical-create key. With idempotent creates (the
// "idempotent" param, or Config.IdempotentCreates) the key is a GUID written
// into the table's primary-key column before attempt 1 (the caller's own
// value when it supplied one) and reused on every retry, so a retry can never
// make a second record; a 412/0x80040237 on a retry, after an attempt that
// may have run, means that attempt landed and is answered as a success with
// that id (after attempts that provably did not run, the key belongs to a
// record that was there before: the 412 is answered as the conflict it is).
// Without it the key is a generated GUID used only by the ledger.
//
// When any attempt of a create may have run without the engine knowing (it
// timed out, or failed with -32000, 502 or 504 — OutcomeUnknown), the ledger
// gets an entry, committed as soon as such an attempt returns (before any
// retry, so that a daemon killed while it waits to retry leaves the entry
// suspected for the next start to reconcile) and brought up to date before
// the widget's result (which then carries possibleDuplicate:true and
// ledgerId). The late answers of the timed-out
// attempts (correlation.Late via correlation.Attempt.OnLate) then move it:
// two or more distinct records → confirmed (recordIds lists them all);
// idempotent with its record known → resolved; timed-out attempts still
// unanswered → suspected; one never answered within the late window, or an
// attempt whose outcome nothing will settle (a -32000 the backend answered
// itself — the bridge keeps no late record for it —, a 502/504, a late
// answer that is itself a timeout or a host gone) → expired-unknown;
// otherwise cleared. Every later change is pushed to the session as
// bridge.ledger {entry}. The per-create state stays in memory until every
// timed-out attempt is resolved, so a late answer that arrives while later
// attempts still run is never lost.
//
// # Execute
//
// enreach.xrm.execute makes exactly one attempt: the Enreach page of
// Enreach.API.Xrm.execute documents no retry (no maxRetries or delay, unlike
// createRecord and updateRecord), so the bridge does not repeat it on its
// own; a widget that wants retries calls it again. A CRUD Create
// (operationType 2, operationName "Create", data {etn, payload}) is still a
// logical create like createRecord's: tracked in the ledger (entry method
// enreach.xrm.execute) when its attempt timed out, idempotent under
// Config.IdempotentCreates with the key in the payload's primary key, and
// answered with an XrmCreateResult (a superset of Xrm's {entityType, id}).
package retry
