package retry_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/ledger/ledgertest"
	"github.com/cifbridge/cifbridge/bridge/retry"
	"github.com/cifbridge/cifbridge/protocol"
)

// lateOf is the late answer of attempt id of session, a create of record.
func lateOf(session, id, record string) correlation.Late {
	return correlation.Late{Info: correlation.Info{Attempt: correlation.Attempt{ID: id, Kind: correlation.KindBackend, Session: session,
		Method: protocol.MethodCreateRecord}, State: protocol.AttemptTimedOut},
		Result: json.RawMessage(`{"entityType":"contact","id":"` + record + `"}`)}
}

// TestAdoptLateSettlesAnEntryAnotherEngineWrote: the engine of the node
// that now holds the session applies a late answer to the entry the
// engine that made the attempt wrote (and died with), as that engine
// would have: confirmed with both records, told with bridge.ledger, once.
func TestAdoptLateSettlesAnEntryAnotherEngineWrote(t *testing.T) {
	l := ledgertest.New(t)
	ctx := context.Background()
	plain, err := l.Create(ctx, protocol.LedgerEntry{Session: "s1", Method: protocol.MethodXrmCreateRecord, Entity: "contact", Key: "k-1",
		Status: protocol.LedgerSuspected, RecordIDs: []string{"r-2"}, Attempts: []protocol.LedgerAttempt{
			{AttemptID: "at-1", Outcome: protocol.LedgerOutcomeTimeout}, {AttemptID: "at-2", Outcome: protocol.LedgerOutcomeSuccess, RecordID: "r-2"}}})
	if err != nil {
		t.Fatal(err)
	}
	idem, err := l.Create(ctx, protocol.LedgerEntry{Session: "s1", Method: protocol.MethodXrmCreateRecord, Entity: "contact", Key: "k-2",
		Status: protocol.LedgerSuspected, RecordIDs: []string{}, Attempts: []protocol.LedgerAttempt{
			{AttemptID: "at-3", Outcome: protocol.LedgerOutcomeTimeout}, {AttemptID: "at-4", Outcome: protocol.LedgerOutcomeTimeout}}})
	if err != nil {
		t.Fatal(err)
	}
	// A bridge that only records notifications: AdoptLate makes no attempt.
	nb := &fakeBridge{script: func(int, string, correlation.Attempt) (json.RawMessage, error) {
		panic("AdoptLate made an attempt")
	}}
	eng, err := retry.New(retry.Config{Bridge: nb, Ledger: l})
	if err != nil {
		t.Fatal(err)
	}

	eng.AdoptLate(lateOf("s1", "at-1", "r-1"))
	got, _ := l.Get(ctx, plain.ID)
	if got.Status != protocol.LedgerConfirmed || len(got.RecordIDs) != 2 || got.Attempts[0].Outcome != protocol.LedgerOutcomeLateSuccess || got.Attempts[0].RecordID != "r-1" {
		t.Fatalf("entry after the late answer: %+v, want confirmed with r-2 and r-1", got)
	}
	if len(nb.notes) != 1 || nb.notes[0].Entry.ID != plain.ID || nb.notes[0].Entry.Status != protocol.LedgerConfirmed {
		t.Fatalf("bridge.ledger sent: %+v", nb.notes)
	}
	// The same answer again (a second delivery must never happen, but the
	// ledger holds anyway), an Elsewhere and an attempt nobody waits for
	// change nothing.
	eng.AdoptLate(lateOf("s1", "at-1", "r-9"))
	el := lateOf("s1", "at-3", "k-2")
	el.Elsewhere = true
	eng.AdoptLate(el)
	eng.AdoptLate(lateOf("s1", "at-unknown", "r-8"))
	if again, _ := l.Get(ctx, plain.ID); again.Version != got.Version || len(nb.notes) != 1 {
		t.Fatalf("entry changed again: version %d → %d, %d notifications", got.Version, again.Version, len(nb.notes))
	}

	// An idempotent create (its record's id is its key): the late success
	// resolves it, though its other attempt is still out.
	eng.AdoptLate(lateOf("s1", "at-3", "k-2"))
	got, _ = l.Get(ctx, idem.ID)
	if got.Status != protocol.LedgerResolved || len(got.RecordIDs) != 1 || got.RecordIDs[0] != "k-2" {
		t.Fatalf("idempotent entry: %+v, want resolved with its key", got)
	}
}
