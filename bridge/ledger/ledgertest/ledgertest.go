// Package ledgertest holds what the tests of every ledger.Store share.
//
// Entry point: Sample.
package ledgertest

import "github.com/cifbridge/cifbridge/protocol"

// Sample is an entry as the retry engine writes one for session with
// status st: a timed-out attempt, then one that made record r2.
func Sample(session string, st protocol.LedgerStatus) protocol.LedgerEntry {
	return protocol.LedgerEntry{
		Session: session, Method: "enreach.xrm.createRecord", Entity: "contact", Key: "k-" + session, Status: st,
		Attempts: []protocol.LedgerAttempt{
			{AttemptID: "a1", Outcome: protocol.LedgerOutcomeTimeout, Code: -32000, LatencyMs: 200},
			{AttemptID: "a2", Outcome: protocol.LedgerOutcomeSuccess, LatencyMs: 3, RecordID: "r2"},
		},
		RecordIDs: []string{"r2"},
	}
}
