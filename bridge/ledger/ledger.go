package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/cifbridge/cifbridge/protocol"
)

// Errors, matched with errors.Is.
var (
	ErrNotFound = errors.New("no such ledger entry")
	ErrClosed   = errors.New("ledger is closed")
	ErrInvalid  = errors.New("invalid ledger entry")
	ErrExists   = errors.New("ledger entry already exists")
)

// FileName is the ledger's file inside the data directory.
const FileName = "ledger.db"

// Ledger is the durable duplicate ledger. It is safe for concurrent use.
type Ledger struct {
	db   *sql.DB
	path string
	now  func() time.Time

	// mu serialises writes (read-modify-write of Update).
	mu     sync.Mutex
	closed bool
}

// Open opens (creating when missing) the ledger database at path and brings
// its schema up to date.
func Open(path string) (*Ledger, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	// One connection: writes are serialised anyway, and every pragma holds
	// on the connection that does the work.
	db.SetMaxOpenConns(1)
	l := &Ledger{db: db, path: path, now: time.Now}
	if err := l.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return l, nil
}

// Now is the ledger's clock (Store).
func (l *Ledger) Now() time.Time { return l.now() }

// Path is the database file.
func (l *Ledger) Path() string { return l.path }

// Close closes the database. It is idempotent.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.db.Close()
}

// NewID returns a fresh entry id: "L" and a time-ordered UUID (v7) in hex.
func NewID() string {
	u, err := uuid.NewV7()
	if err != nil {
		u = uuid.New()
	}
	return "L" + strings.ReplaceAll(u.String(), "-", "")
}

// Create writes a new entry and returns it as stored. An empty ID gets
// NewID; Created, Updated and Version are set here. It returns once the
// entry is committed to disk.
func (l *Ledger) Create(ctx context.Context, e protocol.LedgerEntry) (protocol.LedgerEntry, error) {
	if e.ID == "" {
		e.ID = NewID()
	}
	if !e.Status.Valid() {
		return protocol.LedgerEntry{}, fmt.Errorf("%w: unknown status %q", ErrInvalid, e.Status)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return protocol.LedgerEntry{}, ErrClosed
	}
	now := l.now().UTC()
	e.Created, e.Updated, e.Version = now, now, 1
	normalize(&e)
	body, err := json.Marshal(body{Attempts: e.Attempts, RecordIDs: e.RecordIDs})
	if err != nil {
		return protocol.LedgerEntry{}, fmt.Errorf("encode ledger entry: %w", err)
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO entries (id, created, updated, session, method, entity, key, status, note, version, body, ever_suspected, ever_confirmed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Created.UnixNano(), e.Updated.UnixNano(), e.Session, e.Method, e.Entity, e.Key, string(e.Status), e.Note, e.Version, string(body),
		e.Status == protocol.LedgerSuspected, e.Status == protocol.LedgerConfirmed)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return protocol.LedgerEntry{}, fmt.Errorf("%w: %s", ErrExists, e.ID)
		}
		return protocol.LedgerEntry{}, fmt.Errorf("insert ledger entry: %w", err)
	}
	return e, nil
}

// Update applies fn to the stored entry id and writes the result, all under
// the ledger's write lock and in one transaction, so concurrent updates
// never lose each other's changes. fn must not change ID or Created; when it
// returns an error nothing is written. It returns the entry as stored, once
// committed to disk.
func (l *Ledger) Update(ctx context.Context, id string, fn func(*protocol.LedgerEntry) error) (protocol.LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return protocol.LedgerEntry{}, ErrClosed
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return protocol.LedgerEntry{}, fmt.Errorf("begin ledger update: %w", err)
	}
	defer tx.Rollback()
	cur, err := scanOne(tx.QueryRowContext(ctx, selectCols+` WHERE id = ?`, id))
	if err != nil {
		return protocol.LedgerEntry{}, err
	}
	next := cur
	next.Attempts = slices.Clone(cur.Attempts)
	next.RecordIDs = slices.Clone(cur.RecordIDs)
	if err := fn(&next); err != nil {
		return protocol.LedgerEntry{}, err
	}
	if !next.Status.Valid() {
		return protocol.LedgerEntry{}, fmt.Errorf("%w: unknown status %q", ErrInvalid, next.Status)
	}
	next.ID, next.Created = cur.ID, cur.Created
	next.Version = cur.Version + 1
	next.Updated = l.now().UTC()
	normalize(&next)
	b, err := json.Marshal(body{Attempts: next.Attempts, RecordIDs: next.RecordIDs})
	if err != nil {
		return protocol.LedgerEntry{}, fmt.Errorf("encode ledger entry: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE entries SET updated = ?, session = ?, method = ?, entity = ?, key = ?, status = ?, note = ?, version = ?, body = ?,
		ever_suspected = (ever_suspected OR ?), ever_confirmed = (ever_confirmed OR ?)
		WHERE id = ? AND version = ?`,
		next.Updated.UnixNano(), next.Session, next.Method, next.Entity, next.Key, string(next.Status), next.Note, next.Version, string(b),
		next.Status == protocol.LedgerSuspected, next.Status == protocol.LedgerConfirmed, id, cur.Version)
	if err != nil {
		return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry %s: changed concurrently (version %d)", id, cur.Version)
	}
	if err := tx.Commit(); err != nil {
		return protocol.LedgerEntry{}, fmt.Errorf("commit ledger update: %w", err)
	}
	return next, nil
}

// Get returns one entry; the error wraps ErrNotFound when there is none.
func (l *Ledger) Get(ctx context.Context, id string) (protocol.LedgerEntry, error) {
	return scanOne(l.db.QueryRowContext(ctx, selectCols+` WHERE id = ?`, id))
}

// Filter selects entries for List. Zero fields select everything.
type Filter struct {
	Status  protocol.LedgerStatus
	Session string
	Since   time.Time // entries updated at or after Since
	Limit   int       // at most this many (default DefaultLimit, at most MaxLimit)
}

// List bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// List returns the entries matching f, most recently updated first.
func (l *Ledger) List(ctx context.Context, f Filter) ([]protocol.LedgerEntry, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.Session != "" {
		where = append(where, "session = ?")
		args = append(args, f.Session)
	}
	if !f.Since.IsZero() {
		where = append(where, "updated >= ?")
		args = append(args, f.Since.UnixNano())
	}
	q := selectCols
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	q += " ORDER BY updated DESC, id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list ledger: %w", err)
	}
	defer rows.Close()
	out := []protocol.LedgerEntry{}
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ledger: %w", err)
	}
	return out, nil
}

// Totals are the duplicate counters: how many entries have ever been
// suspected, and ever confirmed (an entry counts once, whatever became of
// it later: cleared, acknowledged, pruned, …). They are read from the database, so they
// are the same after a restart.
//
// A confirmed duplicate is a suspicion proven, so Suspected counts every
// entry ever suspected or ever confirmed, and Confirmed ≤ Suspected always
// holds: the retry engine writes an entry "confirmed" at once when the late
// answer came before the entry was first written, and such an entry was
// nonetheless suspected (an attempt timed out) before it was confirmed.
type Totals = protocol.LedgerTotals

// Totals returns the duplicate counters.
func (l *Ledger) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := l.db.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(SUM(ever_suspected OR ever_confirmed), 0) FROM entries) + (SELECT suspected FROM pruned),
		(SELECT COALESCE(SUM(ever_confirmed), 0) FROM entries) + (SELECT confirmed FROM pruned)`).Scan(&t.Suspected, &t.Confirmed)
	if err != nil {
		return Totals{}, fmt.Errorf("count ledger: %w", err)
	}
	return t, nil
}

// Counts returns the number of entries per status (every status present).
func (l *Ledger) Counts(ctx context.Context) (map[protocol.LedgerStatus]int, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM entries GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count ledger: %w", err)
	}
	defer rows.Close()
	out := map[protocol.LedgerStatus]int{}
	for _, s := range protocol.LedgerStatuses {
		out[s] = 0
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count ledger: %w", err)
		}
		out[protocol.LedgerStatus(s)] = n
	}
	return out, rows.Err()
}

// body is the JSON column: the parts of an entry that are lists.
type body struct {
	Attempts  []protocol.LedgerAttempt `json:"attempts"`
	RecordIDs []string                 `json:"recordIds"`
}

func normalize(e *protocol.LedgerEntry) {
	if e.Attempts == nil {
		e.Attempts = []protocol.LedgerAttempt{}
	}
	if e.RecordIDs == nil {
		e.RecordIDs = []string{}
	}
}

const selectCols = `SELECT id, created, updated, session, method, entity, key, status, note, version, body FROM entries`

type scanner interface{ Scan(dest ...any) error }

func scanOne(r *sql.Row) (protocol.LedgerEntry, error) {
	e, err := scan(r)
	if errors.Is(err, sql.ErrNoRows) {
		return protocol.LedgerEntry{}, ErrNotFound
	}
	return e, err
}

func scan(r scanner) (protocol.LedgerEntry, error) {
	var e protocol.LedgerEntry
	var created, updated int64
	var status, b string
	if err := r.Scan(&e.ID, &created, &updated, &e.Session, &e.Method, &e.Entity, &e.Key, &status, &e.Note, &e.Version, &b); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return protocol.LedgerEntry{}, err
		}
		return protocol.LedgerEntry{}, fmt.Errorf("read ledger entry: %w", err)
	}
	e.Created, e.Updated, e.Status = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC(), protocol.LedgerStatus(status)
	var bd body
	if err := json.Unmarshal([]byte(b), &bd); err != nil {
		return protocol.LedgerEntry{}, fmt.Errorf("read ledger entry %s: %w", e.ID, err)
	}
	e.Attempts, e.RecordIDs = bd.Attempts, bd.RecordIDs
	normalize(&e)
	return e, nil
}
