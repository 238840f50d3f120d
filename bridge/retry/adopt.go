package retry

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// errNotWaiting stops an AdoptLate update whose attempt is no longer
// awaited in the entry (settled meanwhile).
var errNotWaiting = errors.New("the entry no longer waits for this attempt")

// AdoptLate applies the late answer of an attempt this engine did not make
// (bridge.Server.HandleLate: another node of the cluster made it and died,
// or gave the session up) to the ledger entry that waits for it, exactly as
// the engine that made it would have: the entry's state is rebuilt from
// the ledger, the late outcome applied, and the session told with
// bridge.ledger. An attempt no entry waits for (its create had no
// possible duplicate, or its entry was never written) changes nothing.
func (e *Engine) AdoptLate(l correlation.Late) {
	if l.Elsewhere || l.Info.Kind != correlation.KindBackend {
		return
	}
	// A cluster's ledger may have no leader for a few seconds after a node
	// died (the very death that brought this answer here): try again for
	// up to adoptWait.
	var (
		entry protocol.LedgerEntry
		id    string
		err   error
	)
	for deadline, wait := time.Now().Add(adoptWait), 250*time.Millisecond; ; wait = min(2*wait, 4*time.Second) {
		entry, id, err = e.adoptLate(l)
		if err == nil || errors.Is(err, errNotWaiting) || time.Now().After(deadline) || e.stopping() {
			break
		}
		e.log.Debug().Err(err).Str("attempt", l.Info.ID).Msg("ledger unavailable for a late answer from another node: retrying")
		time.Sleep(wait)
	}
	switch {
	case errors.Is(err, errNotWaiting):
		return
	case err != nil:
		e.log.Error().Err(err).Str("session", l.Info.Session).Str("attempt", l.Info.ID).Str("ledgerId", id).
			Msg("ledger write failed: a late answer from another node is only in the log")
		return
	case id == "":
		e.log.Debug().Str("session", l.Info.Session).Str("attempt", l.Info.ID).Msg("no ledger entry waits for this late answer")
		return
	}
	e.log.Info().Str("session", entry.Session).Str("ledgerId", entry.ID).Str("entity", entry.Entity).Str("attempt", l.Info.ID).
		Str("status", string(entry.Status)).Strs("recordIds", entry.RecordIDs).Msg("duplicate ledger entry written (late answer of an attempt another node made)")
	e.cfg.Bridge.Notify(entry.Session, protocol.NotifyLedger, protocol.LedgerParams{Entry: entry})
}

// adoptWait bounds AdoptLate's retries while the ledger does not answer.
const adoptWait = time.Minute

// adoptLate is one try of AdoptLate: the entry as written and its id ("" when
// no entry waits for the attempt).
func (e *Engine) adoptLate(l correlation.Late) (protocol.LedgerEntry, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.LedgerWriteTimeout)
	defer cancel()
	list, err := e.cfg.Ledger.List(ctx, ledger.Filter{Session: l.Info.Session, Status: protocol.LedgerSuspected, Limit: ledger.MaxLimit})
	if err != nil {
		return protocol.LedgerEntry{}, "", err
	}
	i := slices.IndexFunc(list, func(x protocol.LedgerEntry) bool { return waitsFor(x, l.Info.ID) })
	if i < 0 {
		return protocol.LedgerEntry{}, "", nil
	}
	entry, err := e.cfg.Ledger.Update(ctx, list[i].ID, func(cur *protocol.LedgerEntry) error {
		if !waitsFor(*cur, l.Info.ID) {
			return errNotWaiting
		}
		lc := &logicalCreate{e: e, method: cur.Method, session: cur.Session, entity: cur.Entity, key: cur.Key,
			attempts: slices.Clone(cur.Attempts), ids: slices.Clone(cur.RecordIDs), done: true}
		lc.applyLate(slices.IndexFunc(lc.attempts, func(a protocol.LedgerAttempt) bool { return a.AttemptID == l.Info.ID }), l)
		// An idempotent create's record has the create's key as its id; a
		// plain create's records never do.
		lc.idempotent = slices.Contains(lc.ids, lc.key)
		if st := lc.status(); st != "" {
			settle(cur, st, lc.attempts, lc.ids, lc.idempotent, false)
		}
		return nil
	})
	return entry, list[i].ID, err
}

// waitsFor reports whether entry x still waits for attempt id's answer.
func waitsFor(x protocol.LedgerEntry, id string) bool {
	return slices.ContainsFunc(x.Attempts, func(a protocol.LedgerAttempt) bool {
		return a.AttemptID == id && a.Outcome == protocol.LedgerOutcomeTimeout
	})
}
