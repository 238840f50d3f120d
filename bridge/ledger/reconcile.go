package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// RecordChecker looks a record up by its primary key, for Reconcile: the
// key of an idempotent create is its record's primary key, so a record
// found under it is that create's one record. A backend that can (the
// dataverse backend) implements it.
type RecordChecker interface {
	// RecordExists reports whether entity has a record whose primary key
	// is id.
	RecordExists(ctx context.Context, entity, id string) (bool, error)
}

// ReconcileResult counts what Reconcile did.
type ReconcileResult struct {
	Expired  int // suspected past the late window: now expired-unknown
	Resolved int // found by primary key: now resolved (or confirmed, when another record was known)
	Waiting  int // still suspected, their late window not over yet
	// Next is when the earliest waiting entry's late window ends (zero when
	// none waits): call Reconcile again then.
	Next time.Time
}

// Notes Reconcile writes.
const (
	NoteExpiredAfterRestart = "the bridge stopped (crash or shutdown) while an attempt's answer was awaited, and its late-record window has passed since: the outcome will never be known, a duplicate may exist"
	NoteResolvedByKey       = "the bridge stopped while an attempt's answer was awaited; after the restart the record was found under the create's key (its primary key): one record exists"
	NoteConfirmedByKey      = "the bridge stopped while an attempt's answer was awaited; after the restart a record was found under the create's key besides the one already known: recordIds lists both"
)

// Reconcile settles the suspected entries created before `before` (those a
// previous run of the bridge left behind, whose late answers died with it):
// one whose record check finds its record under the create's key becomes
// resolved; one whose late window (lateWindow after it was created, when
// its last attempt had already ended) has passed becomes expired-unknown,
// with the reason in its note; the rest wait (ReconcileResult.Next says
// until when). check may be nil.
//
// Several nodes may reconcile one shared store at once: every change is an
// Update that settles only an entry still suspected, so each entry is
// settled once and counted by the node that did it.
func Reconcile(ctx context.Context, l Store, before time.Time, lateWindow time.Duration, check RecordChecker) (ReconcileResult, error) {
	var res ReconcileResult
	seen := map[string]bool{}
	for {
		list, err := l.List(ctx, Filter{Status: protocol.LedgerSuspected, Limit: MaxLimit})
		if err != nil {
			return res, fmt.Errorf("list suspected entries: %w", err)
		}
		progress := false
		for _, e := range list {
			if seen[e.ID] || !e.Created.Before(before) {
				continue
			}
			seen[e.ID] = true
			progress = true
			settle, why := protocol.LedgerStatus(""), ""
			if check != nil && e.Key != "" {
				found, err := check.RecordExists(ctx, e.Entity, e.Key)
				if err != nil {
					return res, fmt.Errorf("check entry %s: %w", e.ID, err)
				}
				if found {
					settle, why = protocol.LedgerResolved, NoteResolvedByKey
				}
			}
			end := e.Created.Add(lateWindow)
			if settle == "" && !l.Now().Before(end) {
				settle, why = protocol.LedgerExpiredUnknown, NoteExpiredAfterRestart
			}
			if settle == "" {
				res.Waiting++
				if res.Next.IsZero() || end.Before(res.Next) {
					res.Next = end
				}
				continue
			}
			// fn may run again on a conflict: it starts from settle and why
			// each time.
			_, err := l.Update(ctx, e.ID, func(cur *protocol.LedgerEntry) error {
				to, note := settle, why
				if cur.Status != protocol.LedgerSuspected {
					return errSettled
				}
				if to == protocol.LedgerResolved && !slices.Contains(cur.RecordIDs, e.Key) {
					cur.RecordIDs = append(cur.RecordIDs, e.Key)
					if len(cur.RecordIDs) > 1 {
						// Another record besides the one under the key.
						to, note = protocol.LedgerConfirmed, NoteConfirmedByKey
					}
				}
				cur.Status, cur.Note = to, note
				for i := range cur.Attempts {
					if cur.Attempts[i].Outcome == protocol.LedgerOutcomeTimeout && to == protocol.LedgerExpiredUnknown {
						cur.Attempts[i].Outcome = protocol.LedgerOutcomeExpired
					}
				}
				return nil
			})
			switch {
			case errors.Is(err, errSettled):
			case err != nil:
				return res, fmt.Errorf("settle entry %s: %w", e.ID, err)
			case settle == protocol.LedgerResolved:
				res.Resolved++
			default:
				res.Expired++
			}
		}
		if !progress || len(list) < MaxLimit {
			return res, nil
		}
	}
}

// errSettled stops an update whose entry changed status meanwhile.
var errSettled = fmt.Errorf("%w: no longer suspected", ErrInvalid)
