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
// When a call stops after a single attempt the widget gets that attempt's
// error unchanged; after several it gets -32005 whose data lists every
// attempt ({"attempts":[…],"ledgerId"?,"lastError"}).
//
// # Creates
//
// Every create has a logical-create key. With idempotent creates (the
// "idempotent" param, or Config.IdempotentCreates) the key is a GUID written
// into the table's primary-key column before attempt 1 (the caller's own
// value when it supplied one) and reused on every retry, so a retry can never
// make a second record; a 412/0x80040237 on a retry means an earlier attempt
// landed and is answered as a success with that id. Without it the key is a
// generated GUID used only by the ledger.
//
// When any attempt of a create timed out, the ledger gets an entry,
// committed before the widget's result (which then carries
// possibleDuplicate:true and ledgerId). The late answers of the timed-out
// attempts (correlation.Late via AttemptRequest.OnLate) then move it:
// two or more distinct records → confirmed (recordIds lists them all);
// idempotent with its record known → resolved; timed-out attempts still
// unanswered → suspected; one never answered within the late window →
// expired-unknown; otherwise cleared. Every later change is pushed to the
// session as bridge.ledger {entry}. The per-create state stays in memory
// until every timed-out attempt is resolved, so a late answer that arrives
// while later attempts still run is never lost.
//
// # Execute
//
// enreach.xrm.execute is retried (with the default maxRetries and delay)
// only when repeating it cannot change data: functions (operationType 1) and
// the CRUD Retrieve (operationType 2, operationName "Retrieve"). Actions and
// CRUD writes run exactly once, since an action may have side effects the
// engine cannot make idempotent.
package retry
