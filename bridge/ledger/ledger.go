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
)

// Status is the state of a ledger entry.
type Status string

// Statuses (see the package doc).
const (
	StatusSuspected      Status = "suspected"
	StatusConfirmed      Status = "confirmed"
	StatusCleared        Status = "cleared"
	StatusResolved       Status = "resolved"
	StatusExpiredUnknown Status = "expired-unknown"
	StatusAcknowledged   Status = "acknowledged"
)

// Statuses lists every status, in a stable order.
var Statuses = []Status{StatusSuspected, StatusConfirmed, StatusCleared, StatusResolved, StatusExpiredUnknown, StatusAcknowledged}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Attempt outcomes.
const (
	OutcomeSuccess     = "success"      // answered in time with a result
	OutcomeFailure     = "failure"      // answered in time with an error
	OutcomeTimeout     = "timeout"      // no answer in time; the late answer is still awaited
	OutcomeLateSuccess = "late-success" // timed out, then answered with a result
	OutcomeLateFailure = "late-failure" // timed out, then answered with an error
	OutcomeExpired     = "expired"      // timed out and never answered within the late-record window
	OutcomeUnknown     = "unknown"      // answered with an error that leaves open whether it ran (the backend's own timeout, a gateway 502/504, a host gone mid-call); nothing will settle it
)

// Attempt is one attempt of a logical create as the ledger records it.
type Attempt struct {
	AttemptID     string `json:"attemptId"`
	Outcome       string `json:"outcome"`                 // Outcome*
	Code          int64  `json:"code,omitempty"`          // JSON-RPC error code of a failure or timeout
	DataverseCode string `json:"dataverseCode,omitempty"` // e.g. "0x80040237"
	HTTPStatus    int    `json:"httpStatus,omitempty"`
	Message       string `json:"message,omitempty"`
	LatencyMs     int64  `json:"latencyMs"`          // from send to answer (or to the CIF timeout)
	LateByMs      int64  `json:"lateByMs,omitempty"` // for late answers: after the CIF deadline
	RecordID      string `json:"recordId,omitempty"` // the record an attempt created
}

// Entry is one logical create in the ledger. The JSON shape is what
// GET /api/v1/ledger/{id} and the bridge.ledger notification carry.
type Entry struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Session   string    `json:"session"`
	Method    string    `json:"method"` // e.g. "enreach.xrm.createRecord"
	Entity    string    `json:"entity"`
	Key       string    `json:"key"` // logical-create key: the idempotency GUID, or one generated for the create
	Attempts  []Attempt `json:"attempts"`
	RecordIDs []string  `json:"recordIds"` // every record known to exist for this create
	Status    Status    `json:"status"`
	Note      string    `json:"note,omitempty"`
	// Version counts writes; Update increments it.
	Version int64 `json:"version"`
}

// Errors, matched with errors.Is.
var (
	ErrNotFound = errors.New("no such ledger entry")
	ErrClosed   = errors.New("ledger is closed")
	ErrInvalid  = errors.New("invalid ledger entry")
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
func (l *Ledger) Create(ctx context.Context, e Entry) (Entry, error) {
	if e.ID == "" {
		e.ID = NewID()
	}
	if !e.Status.Valid() {
		return Entry{}, fmt.Errorf("%w: unknown status %q", ErrInvalid, e.Status)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Entry{}, ErrClosed
	}
	now := l.now().UTC()
	e.Created, e.Updated, e.Version = now, now, 1
	normalize(&e)
	body, err := json.Marshal(body{Attempts: e.Attempts, RecordIDs: e.RecordIDs})
	if err != nil {
		return Entry{}, fmt.Errorf("encode ledger entry: %w", err)
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO entries (id, created, updated, session, method, entity, key, status, note, version, body, ever_suspected, ever_confirmed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Created.UnixNano(), e.Updated.UnixNano(), e.Session, e.Method, e.Entity, e.Key, string(e.Status), e.Note, e.Version, string(body),
		e.Status == StatusSuspected, e.Status == StatusConfirmed)
	if err != nil {
		return Entry{}, fmt.Errorf("insert ledger entry: %w", err)
	}
	return e, nil
}

// Update applies fn to the stored entry id and writes the result, all under
// the ledger's write lock and in one transaction, so concurrent updates
// never lose each other's changes. fn must not change ID or Created; when it
// returns an error nothing is written. It returns the entry as stored, once
// committed to disk.
func (l *Ledger) Update(ctx context.Context, id string, fn func(*Entry) error) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Entry{}, ErrClosed
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return Entry{}, fmt.Errorf("begin ledger update: %w", err)
	}
	defer tx.Rollback()
	cur, err := scanOne(tx.QueryRowContext(ctx, selectCols+` WHERE id = ?`, id))
	if err != nil {
		return Entry{}, err
	}
	next := cur
	next.Attempts = slices.Clone(cur.Attempts)
	next.RecordIDs = slices.Clone(cur.RecordIDs)
	if err := fn(&next); err != nil {
		return Entry{}, err
	}
	if !next.Status.Valid() {
		return Entry{}, fmt.Errorf("%w: unknown status %q", ErrInvalid, next.Status)
	}
	next.ID, next.Created = cur.ID, cur.Created
	next.Version = cur.Version + 1
	next.Updated = l.now().UTC()
	normalize(&next)
	b, err := json.Marshal(body{Attempts: next.Attempts, RecordIDs: next.RecordIDs})
	if err != nil {
		return Entry{}, fmt.Errorf("encode ledger entry: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE entries SET updated = ?, session = ?, method = ?, entity = ?, key = ?, status = ?, note = ?, version = ?, body = ?,
		ever_suspected = (ever_suspected OR ?), ever_confirmed = (ever_confirmed OR ?)
		WHERE id = ? AND version = ?`,
		next.Updated.UnixNano(), next.Session, next.Method, next.Entity, next.Key, string(next.Status), next.Note, next.Version, string(b),
		next.Status == StatusSuspected, next.Status == StatusConfirmed, id, cur.Version)
	if err != nil {
		return Entry{}, fmt.Errorf("update ledger entry: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Entry{}, fmt.Errorf("update ledger entry %s: changed concurrently (version %d)", id, cur.Version)
	}
	if err := tx.Commit(); err != nil {
		return Entry{}, fmt.Errorf("commit ledger update: %w", err)
	}
	return next, nil
}

// Acknowledge marks an entry as looked at by an operator, with an optional
// note. Acknowledging twice is allowed and replaces the note.
func (l *Ledger) Acknowledge(ctx context.Context, id, note string) (Entry, error) {
	return l.Update(ctx, id, func(e *Entry) error {
		e.Status = StatusAcknowledged
		if note != "" {
			e.Note = note
		}
		return nil
	})
}

// Get returns one entry; the error wraps ErrNotFound when there is none.
func (l *Ledger) Get(ctx context.Context, id string) (Entry, error) {
	return scanOne(l.db.QueryRowContext(ctx, selectCols+` WHERE id = ?`, id))
}

// Filter selects entries for List. Zero fields select everything.
type Filter struct {
	Status  Status
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
func (l *Ledger) List(ctx context.Context, f Filter) ([]Entry, error) {
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
	out := []Entry{}
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
// it later: cleared, acknowledged, …). They are read from the table, so they
// are the same after a restart.
//
// A confirmed duplicate is a suspicion proven, so Suspected counts every
// entry ever suspected or ever confirmed, and Confirmed ≤ Suspected always
// holds: the retry engine writes an entry "confirmed" at once when the late
// answer came before the entry was first written, and such an entry was
// nonetheless suspected (an attempt timed out) before it was confirmed.
type Totals struct {
	Suspected int `json:"suspected"`
	Confirmed int `json:"confirmed"`
}

// Totals returns the duplicate counters.
func (l *Ledger) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := l.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(ever_suspected OR ever_confirmed), 0), COALESCE(SUM(ever_confirmed), 0) FROM entries`).Scan(&t.Suspected, &t.Confirmed)
	if err != nil {
		return Totals{}, fmt.Errorf("count ledger: %w", err)
	}
	return t, nil
}

// Counts returns the number of entries per status (every status present).
func (l *Ledger) Counts(ctx context.Context) (map[Status]int, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM entries GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count ledger: %w", err)
	}
	defer rows.Close()
	out := map[Status]int{}
	for _, s := range Statuses {
		out[s] = 0
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count ledger: %w", err)
		}
		out[Status(s)] = n
	}
	return out, rows.Err()
}

// body is the JSON column: the parts of an entry that are lists.
type body struct {
	Attempts  []Attempt `json:"attempts"`
	RecordIDs []string  `json:"recordIds"`
}

func normalize(e *Entry) {
	if e.Attempts == nil {
		e.Attempts = []Attempt{}
	}
	if e.RecordIDs == nil {
		e.RecordIDs = []string{}
	}
}

const selectCols = `SELECT id, created, updated, session, method, entity, key, status, note, version, body FROM entries`

type scanner interface{ Scan(dest ...any) error }

func scanOne(r *sql.Row) (Entry, error) {
	e, err := scan(r)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, ErrNotFound
	}
	return e, err
}

func scan(r scanner) (Entry, error) {
	var e Entry
	var created, updated int64
	var status, b string
	if err := r.Scan(&e.ID, &created, &updated, &e.Session, &e.Method, &e.Entity, &e.Key, &status, &e.Note, &e.Version, &b); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Entry{}, err
		}
		return Entry{}, fmt.Errorf("read ledger entry: %w", err)
	}
	e.Created, e.Updated, e.Status = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC(), Status(status)
	var bd body
	if err := json.Unmarshal([]byte(b), &bd); err != nil {
		return Entry{}, fmt.Errorf("read ledger entry %s: %w", e.ID, err)
	}
	e.Attempts, e.RecordIDs = bd.Attempts, bd.RecordIDs
	normalize(&e)
	return e, nil
}
