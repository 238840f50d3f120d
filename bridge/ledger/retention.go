package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/periodic"
	"github.com/cifbridge/cifbridge/protocol"
)

// DefaultRetention is how long a settled entry is kept after its last
// change (serve --ledger-retention).
const DefaultRetention = 30 * 24 * time.Hour

// Prunable are the statuses retention deletes: entries nobody has to act on
// any more. Acknowledged (an operator has seen it), expired-unknown (nothing
// will ever settle it), cleared and resolved (no duplicate). Suspected
// entries still wait for late answers and confirmed ones for an operator:
// they are never pruned.
var Prunable = []protocol.LedgerStatus{protocol.LedgerAcknowledged, protocol.LedgerExpiredUnknown, protocol.LedgerCleared, protocol.LedgerResolved}

// Prune deletes the Prunable entries last updated before cutoff and returns
// how many it deleted. The duplicate counters (Totals) keep counting them.
func (l *Ledger) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("prune ledger: %w", ErrClosed)
	}
	where := `status IN (?` + strings.Repeat(`, ?`, len(Prunable)-1) + `) AND updated < ?`
	args := make([]any, 0, len(Prunable)+1)
	for _, s := range Prunable {
		args = append(args, string(s))
	}
	args = append(args, cutoff.UnixNano())
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune ledger: %w", err)
	}
	defer tx.Rollback()
	var n, suspected, confirmed int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(ever_suspected OR ever_confirmed), 0), COALESCE(SUM(ever_confirmed), 0) FROM entries WHERE `+where, args...).
		Scan(&n, &suspected, &confirmed); err != nil {
		return 0, fmt.Errorf("prune ledger: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE `+where, args...); err != nil {
		return 0, fmt.Errorf("prune ledger: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE pruned SET entries = entries + ?, suspected = suspected + ?, confirmed = confirmed + ?`,
		n, suspected, confirmed); err != nil {
		return 0, fmt.Errorf("prune ledger: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune ledger: %w", err)
	}
	return n, nil
}

// Pruned is how many entries retention has deleted, ever.
func (l *Ledger) Pruned(ctx context.Context) (int, error) {
	var n int
	if err := l.db.QueryRowContext(ctx, `SELECT entries FROM pruned`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pruned ledger entries: %w", err)
	}
	return n, nil
}

// Retention prunes the entries of l settled for longer than keep (Prune
// with the cutoff now − keep): once at once, then every interval, until ctx
// ends. Failures are logged and retried at the next tick.
func Retention(ctx context.Context, l Store, keep, interval time.Duration, log zerolog.Logger) {
	prune := func() {
		cutoff := l.Now().Add(-keep)
		n, err := l.Prune(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error().Err(err).Msg("ledger retention: prune failed; retrying at the next interval")
		case n > 0:
			log.Info().Int("pruned", n).Time("before", cutoff).Dur("retention", keep).
				Msg("ledger retention: pruned settled entries")
		}
	}
	prune()
	periodic.Every(ctx, interval, prune)
}
