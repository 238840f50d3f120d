package loadtest

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// notify hands the runner a notification as the bridge encodes it.
func notify(t *testing.T, r *runner, s *session, method string, params any) {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	r.notification(s, method, b)
}

func ledgerNote(t *testing.T, e protocol.LedgerEntry) protocol.LedgerParams {
	t.Helper()
	return protocol.LedgerParams{Entry: e}
}

func attempts(outcomes ...string) []protocol.LedgerAttempt {
	out := make([]protocol.LedgerAttempt, len(outcomes))
	for i, o := range outcomes {
		out[i] = protocol.LedgerAttempt{AttemptID: string(rune('a' + i)), Outcome: o}
	}
	return out
}

// The late answers and ledger entries of a load run, as the retry engine
// sends them: bridge.late names the backend attempt's method, so the
// widget's call decides between a raw CIF create and an engine attempt;
// bridge.ledger pushes a whole entry on every change, so an entry counts
// once, at its newest version.
func TestDuplicatesFromNotifications(t *testing.T) {
	r := &runner{}
	s := &session{r: r, pending: map[uint64]pendingCall{9: {method: protocol.MethodXrmCreateRecord}}, timedOut: map[uint64]string{}}

	// A cif.createrecord answered -32000, then its record landed: confirmed.
	s.timedOut[5] = protocol.MethodCreateRecord
	r.cifCreateTimeouts++
	late := func(id string) protocol.LateParams {
		return protocol.LateParams{RequestID: json.RawMessage(id), Method: protocol.MethodCreateRecord, Outcome: protocol.OutcomeSuccess, Result: json.RawMessage(`{"entityType":"contact","id":"x"}`)}
	}
	notify(t, r, s, protocol.NotifyLate, late("5"))
	// Attempts of enreach.xrm.createRecord calls, pending (9) and already
	// answered (7): the ledger counts them, not bridge.late.
	notify(t, r, s, protocol.NotifyLate, late("9"))
	notify(t, r, s, protocol.NotifyLate, late("7"))
	notify(t, r, s, protocol.NotifyLate, late("7"))

	// L1: two attempts timed out, the third answered; pushed confirmed with
	// two records while one attempt still awaits its answer, then with
	// three. Delivered newest first: the older push must not win.
	r.answeredWithLedger("L1", true, true)
	l1 := protocol.LedgerEntry{ID: "L1", Status: protocol.LedgerConfirmed, Version: 2, RecordIDs: []string{"c", "a"},
		Attempts: attempts(protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeTimeout, protocol.LedgerOutcomeSuccess)}
	l1v3 := l1
	l1v3.Version, l1v3.RecordIDs = 3, []string{"c", "a", "b"}
	l1v3.Attempts = attempts(protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeSuccess)
	notify(t, r, s, protocol.NotifyLedger, ledgerNote(t, l1v3))
	notify(t, r, s, protocol.NotifyLedger, ledgerNote(t, l1))
	// L2: answered -32005 naming the entry; its only timed-out attempt
	// landed: the widget holds no id for that record.
	data, _ := json.Marshal(protocol.ExhaustedData{Attempts: attempts(protocol.LedgerOutcomeTimeout, protocol.LedgerOutcomeFailure), LedgerID: "L2"})
	if id := s.attemptsFromError(&protocol.Message{Error: &protocol.Error{Code: protocol.CodeRetriesExhausted, Data: data}}); id != "L2" {
		t.Fatalf("ledger id of the -32005 %q, want L2", id)
	}
	r.answeredWithLedger("L2", false, true)
	notify(t, r, s, protocol.NotifyLedger, ledgerNote(t, protocol.LedgerEntry{ID: "L2", Status: protocol.LedgerCleared, Version: 2, RecordIDs: []string{"d"},
		Attempts: attempts(protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeFailure)}))
	// L3: pushed confirmed before its answer arrived (the engine pushes a
	// non-suspected entry before it answers); L5 is never pushed.
	notify(t, r, s, protocol.NotifyLedger, ledgerNote(t, protocol.LedgerEntry{ID: "L3", Status: protocol.LedgerConfirmed, Version: 1, RecordIDs: []string{"e", "f"},
		Attempts: attempts(protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeSuccess)}))
	r.answeredWithLedger("L3", true, true)
	if !r.settled(1) || r.settled(2) {
		t.Error("settled: want every entry pushed settled and the one raw timeout's late answer in, not two")
	}
	r.answeredWithLedger("L5", true, true)
	if r.settled(1) {
		t.Error("settled with L5 never pushed")
	}

	r.lateMu.Lock()
	d, l := r.duplicates(), r.late
	r.lateMu.Unlock()
	if l.Answers != 4 || l.Retried != 3 || l.CreateSuccess != 1 || l.ByMethod[protocol.MethodCreateRecord] != 4 {
		t.Errorf("late %+v: want 4 answers, 3 of engine attempts, 1 raw create", l)
	}
	want := Duplicates{
		Suspected: 1 + 2 + 1 + 1 + 1, // raw timeout, L1's two, L2's one, L3's one, L5 unseen
		Confirmed: 1 + 2 + 1 + 1,     // raw, L1 c,a,b less c, L2 d, L3 e,f less one
		Flagged:   4,
		Ledger:    map[string]int64{"confirmed": 2, "cleared": 1, "suspected": 1},
	}
	if d.Suspected != want.Suspected || d.Confirmed != want.Confirmed || d.Flagged != want.Flagged || !maps.Equal(d.Ledger, want.Ledger) {
		t.Errorf("duplicates %+v, want %+v", d, want)
	}
	if len(s.timedOut) != 0 {
		t.Errorf("timed-out calls kept after their late answer: %v", s.timedOut)
	}
}
