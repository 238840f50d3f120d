package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are applied in order; schema_version holds how many ran. Never
// edit or reorder a released migration: append a new one.
var migrations = []string{
	// 1: entries. Times are Unix nanoseconds (UTC); body is JSON
	// {"attempts":[…],"recordIds":[…]}.
	`CREATE TABLE entries (
		id      TEXT PRIMARY KEY,
		created INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		session TEXT NOT NULL,
		method  TEXT NOT NULL,
		entity  TEXT NOT NULL,
		key     TEXT NOT NULL,
		status  TEXT NOT NULL,
		note    TEXT NOT NULL DEFAULT '',
		version INTEGER NOT NULL,
		body    TEXT NOT NULL
	);
	CREATE INDEX entries_status  ON entries (status, updated);
	CREATE INDEX entries_session ON entries (session, updated);
	CREATE INDEX entries_updated ON entries (updated);`,
	// 2: sticky flags for the duplicate counters, so that they are read from
	// the table (and survive a restart) instead of counted in memory. An
	// entry written before this migration is flagged by what it shows now:
	// suspected by its status, confirmed by its status or by holding two or
	// more record ids (the engine confirms exactly then).
	`ALTER TABLE entries ADD COLUMN ever_suspected INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE entries ADD COLUMN ever_confirmed INTEGER NOT NULL DEFAULT 0;
	UPDATE entries SET
		ever_suspected = (status = 'suspected'),
		ever_confirmed = (status = 'confirmed' OR json_array_length(body, '$.recordIds') >= 2);`,
	// 3: what retention pruned (one row), so that the duplicate counters
	// never go down when entries are deleted, and the pruned count survives
	// a restart.
	`CREATE TABLE pruned (
		entries   INTEGER NOT NULL,
		suspected INTEGER NOT NULL,
		confirmed INTEGER NOT NULL
	);
	INSERT INTO pruned (entries, suspected, confirmed) VALUES (0, 0, 0);`,
}

// SchemaVersion is the schema this build writes.
var SchemaVersion = len(migrations)

func (l *Ledger) migrate(ctx context.Context) error {
	if _, err := l.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	var have int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&have)
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("init schema_version: %w", err)
		}
	default:
		return fmt.Errorf("read schema_version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("ledger schema version %d is newer than this build's %d: use a newer cifbridge", have, len(migrations))
	}
	for i := have; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("write schema_version: %w", err)
	}
	return tx.Commit()
}
