package ledger

import (
	"context"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// Store is the duplicate ledger as the rest of cifbridge sees it: the retry
// engine writes through it, and Handler, Collectors, Reconcile, Retention
// and Acknowledge work on any Store. Two implement it: *Ledger (SQLite
// under --data-dir, one node) and kvledger.Store (JetStream KV, shared by
// every node of a cluster). Implementations are safe for concurrent use,
// by several processes too, and return from a write only once it is
// durable.
type Store interface {
	// Create writes a new entry and returns it as stored. An empty ID gets
	// NewID; Created, Updated and Version (1) are set by the store. It never
	// overwrites: an ID already stored fails with an error wrapping
	// ErrExists. An unknown status fails with ErrInvalid.
	Create(ctx context.Context, e protocol.LedgerEntry) (protocol.LedgerEntry, error)
	// Update applies fn to the stored entry id and writes the result as one
	// compare-and-set on the entry's version, so concurrent updates (from
	// other goroutines, processes or nodes) never lose each other's
	// changes. fn may run more than once (a store re-reads the entry and
	// re-applies fn when another writer won the race), so it must depend
	// only on the entry it is given. fn must not change ID or Created (the
	// store restores them); Version is incremented and Updated set by the
	// store. When fn returns an error nothing is written and Update returns
	// it. No entry id: an error wrapping ErrNotFound.
	Update(ctx context.Context, id string, fn func(*protocol.LedgerEntry) error) (protocol.LedgerEntry, error)
	// Get returns one entry; the error wraps ErrNotFound when there is none.
	Get(ctx context.Context, id string) (protocol.LedgerEntry, error)
	// List returns the entries matching f, most recently updated first, at
	// most f.Limit (DefaultLimit when 0, never more than MaxLimit).
	List(ctx context.Context, f Filter) ([]protocol.LedgerEntry, error)
	// Counts returns the number of entries per status (every status
	// present, zero included).
	Counts(ctx context.Context) (map[protocol.LedgerStatus]int, error)
	// Totals returns the duplicate counters (see Totals); they count pruned
	// entries too and survive a restart.
	Totals(ctx context.Context) (Totals, error)
	// Prune deletes the Prunable entries last updated before cutoff and
	// returns how many it deleted; Totals keep counting them and Pruned
	// counts them.
	Prune(ctx context.Context, cutoff time.Time) (int, error)
	// Pruned is how many entries Prune has deleted, ever.
	Pruned(ctx context.Context) (int, error)
	// Now is the store's clock, the one Created and Updated are read from.
	Now() time.Time
	// Close releases the store. It is idempotent; other calls then fail
	// with ErrClosed.
	Close() error
}

var _ Store = (*Ledger)(nil)

// Acknowledge marks an entry of s as looked at by an operator, with an
// optional note. Acknowledging twice is allowed and replaces the note.
func Acknowledge(ctx context.Context, s Store, id, note string) (protocol.LedgerEntry, error) {
	return s.Update(ctx, id, func(e *protocol.LedgerEntry) error {
		e.Status = protocol.LedgerAcknowledged
		if note != "" {
			e.Note = note
		}
		return nil
	})
}
