// Package ledgertest holds what the tests of every ledger.Store share.
//
// Entry points: Open, New, Sample, Create.
package ledgertest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// Open opens the SQLite ledger at path and closes it when the test ends;
// a test that reopens the file closes it first (Close is idempotent).
func Open(t testing.TB, path string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// New opens a new SQLite ledger in the test's temporary folder (Open).
func New(t testing.TB) *ledger.Ledger {
	t.Helper()
	return Open(t, filepath.Join(t.TempDir(), ledger.FileName))
}

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

// Create writes Sample(session, st) to s and returns the entry as stored,
// failing the test when s refuses it. Call it from the test's goroutine.
func Create(t testing.TB, ctx context.Context, s ledger.Store, session string, st protocol.LedgerStatus) protocol.LedgerEntry {
	t.Helper()
	e, err := s.Create(ctx, Sample(session, st))
	if err != nil {
		t.Fatalf("create %s entry of session %s: %v", st, session, err)
	}
	return e
}
