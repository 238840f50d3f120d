package retry

import (
	"context"
	"errors"
	"slices"

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
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.LedgerWriteTimeout)
	defer cancel()
	list, err := e.cfg.Ledger.List(ctx, ledger.Filter{Session: l.Info.Session, Status: protocol.LedgerSuspected, Limit: ledger.MaxLimit})
	if err != nil {
		e.log.Error().Err(err).Str("session", l.Info.Session).Str("attempt", l.Info.ID).Msg("ledger read failed: a late answer from another node is only in the log")
		return
	}
	i := slices.IndexFunc(list, func(x protocol.LedgerEntry) bool { return waitsFor(x, l.Info.ID) })
	if i < 0 {
		e.log.Debug().Str("session", l.Info.Session).Str("attempt", l.Info.ID).Msg("no ledger entry waits for this late answer")
		return
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
	switch {
	case errors.Is(err, errNotWaiting):
		return
	case err != nil:
		e.log.Error().Err(err).Str("session", l.Info.Session).Str("attempt", l.Info.ID).Str("ledgerId", list[i].ID).
			Msg("ledger write failed: a late answer from another node is only in the log")
		return
	}
	e.log.Info().Str("session", entry.Session).Str("ledgerId", entry.ID).Str("entity", entry.Entity).Str("attempt", l.Info.ID).
		Str("status", string(entry.Status)).Strs("recordIds", entry.RecordIDs).Msg("duplicate ledger entry written (late answer of an attempt another node made)")
	e.cfg.Bridge.Notify(entry.Session, protocol.NotifyLedger, protocol.LedgerParams{Entry: entry})
}

// waitsFor reports whether entry x still waits for attempt id's answer.
func waitsFor(x protocol.LedgerEntry, id string) bool {
	return slices.ContainsFunc(x.Attempts, func(a protocol.LedgerAttempt) bool {
		return a.AttemptID == id && a.Outcome == protocol.LedgerOutcomeTimeout
	})
}
