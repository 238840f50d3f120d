package kvledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// Keys.
const (
	entryPrefix = "entry."
	prunedKey   = "meta.pruned"
)

// entryKey is id's key, or an error wrapping ErrInvalid when id is not a
// possible entry id (a NATS subject token of letters, digits, '-' and
// '_').
func entryKey(id string) (string, error) {
	if id == "" || len(id) > 128 {
		return "", fmt.Errorf("%w: id must be 1 to 128 characters", ledger.ErrInvalid)
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", fmt.Errorf("%w: id %q may hold only letters, digits, '-' and '_'", ledger.ErrInvalid, id)
		}
	}
	return entryPrefix + id, nil
}

// record is an entry as stored: the entry and the sticky flags the duplicate
// counters are summed from (as the SQLite ledger's ever_* columns).
type record struct {
	protocol.LedgerEntry
	EverSuspected bool `json:"everSuspected,omitempty"`
	EverConfirmed bool `json:"everConfirmed,omitempty"`
}

func (r *record) flag() {
	r.EverSuspected = r.EverSuspected || r.Status == protocol.LedgerSuspected
	r.EverConfirmed = r.EverConfirmed || r.Status == protocol.LedgerConfirmed
}

func decode(v []byte) (record, error) {
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return record{}, fmt.Errorf("read ledger entry: %w", err)
	}
	normalize(&r.LedgerEntry)
	return r, nil
}

func normalize(e *protocol.LedgerEntry) {
	if e.Attempts == nil {
		e.Attempts = []protocol.LedgerAttempt{}
	}
	if e.RecordIDs == nil {
		e.RecordIDs = []string{}
	}
}

// Create writes a new entry with kv.Create, which never overwrites: an id
// already stored fails with ledger.ErrExists.
func (s *Store) Create(ctx context.Context, e protocol.LedgerEntry) (protocol.LedgerEntry, error) {
	if e.ID == "" {
		e.ID = ledger.NewID()
	}
	if !e.Status.Valid() {
		return protocol.LedgerEntry{}, fmt.Errorf("%w: unknown status %q", ledger.ErrInvalid, e.Status)
	}
	key, err := entryKey(e.ID)
	if err != nil {
		return protocol.LedgerEntry{}, err
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		return protocol.LedgerEntry{}, err
	}
	now := s.cfg.Now().UTC()
	e.Created, e.Updated, e.Version = now, now, 1
	normalize(&e)
	r := record{LedgerEntry: e}
	r.flag()
	v, err := json.Marshal(r)
	if err != nil {
		return protocol.LedgerEntry{}, fmt.Errorf("encode ledger entry: %w", err)
	}
	for try := 0; ; try++ {
		_, err := kv.Create(ctx, key, v)
		switch {
		case err == nil:
			return e, nil
		case errors.Is(err, jetstream.ErrKeyExists):
			if try > 0 { // an earlier try that seemed to fail may have landed
				if kve, gerr := kv.Get(ctx, key); gerr == nil && bytes.Equal(kve.Value(), v) {
					return e, nil
				}
			}
			return protocol.LedgerEntry{}, fmt.Errorf("%w: %s", ledger.ErrExists, e.ID)
		case !transient(ctx, err) || try == maxTries:
			return protocol.LedgerEntry{}, fmt.Errorf("create ledger entry: %w", err)
		}
		if err := pause(ctx, try); err != nil {
			return protocol.LedgerEntry{}, fmt.Errorf("create ledger entry: %w", err)
		}
	}
}

// get reads id's stored value (raw and decoded) and its revision, riding
// out transient failures.
func (s *Store) get(ctx context.Context, kv jetstream.KeyValue, id string) (record, []byte, uint64, error) {
	key, err := entryKey(id)
	if err != nil {
		return record{}, nil, 0, fmt.Errorf("%w: %s", ledger.ErrNotFound, id)
	}
	for try := 0; ; try++ {
		kve, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			return record{}, nil, 0, fmt.Errorf("%w: %s", ledger.ErrNotFound, id)
		case err == nil:
			r, err := decode(kve.Value())
			return r, kve.Value(), kve.Revision(), err
		case !transient(ctx, err) || try == maxTries:
			return record{}, nil, 0, fmt.Errorf("get ledger entry %s: %w", id, err)
		}
		if err := pause(ctx, try); err != nil {
			return record{}, nil, 0, fmt.Errorf("get ledger entry %s: %w", id, err)
		}
	}
}

// Get returns one entry; the error wraps ledger.ErrNotFound when there is
// none.
func (s *Store) Get(ctx context.Context, id string) (protocol.LedgerEntry, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return protocol.LedgerEntry{}, err
	}
	r, _, _, err := s.get(ctx, kv, id)
	return r.LedgerEntry, err
}

// Update reads the entry, applies fn and writes the result with kv.Update
// at the revision it read; when another writer changed the entry meanwhile
// it reads it again and re-applies fn. A write whose outcome is unknown (no
// answer while the stream elects a leader) is settled by the next read: the
// value it wrote is there (done), or it is not (fn again).
func (s *Store) Update(ctx context.Context, id string, fn func(*protocol.LedgerEntry) error) (protocol.LedgerEntry, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return protocol.LedgerEntry{}, err
	}
	key, _ := entryKey(id)
	var sent []byte // the value of a write whose outcome is unknown
	for try := range maxTries {
		if try > 0 {
			if err := conflictPause(ctx, try); err != nil {
				return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry %s: %w", id, err)
			}
		}
		cur, raw, rev, err := s.get(ctx, kv, id)
		if err != nil {
			return protocol.LedgerEntry{}, err
		}
		if sent != nil && bytes.Equal(raw, sent) {
			return cur.LedgerEntry, nil // the unanswered write landed
		}
		sent = nil
		next := cur
		next.Attempts = slices.Clone(cur.Attempts)
		next.RecordIDs = slices.Clone(cur.RecordIDs)
		if err := fn(&next.LedgerEntry); err != nil {
			return protocol.LedgerEntry{}, err
		}
		if !next.Status.Valid() {
			return protocol.LedgerEntry{}, fmt.Errorf("%w: unknown status %q", ledger.ErrInvalid, next.Status)
		}
		next.ID, next.Created = cur.ID, cur.Created
		next.Version = cur.Version + 1
		next.Updated = s.cfg.Now().UTC()
		normalize(&next.LedgerEntry)
		next.flag()
		v, err := json.Marshal(next)
		if err != nil {
			return protocol.LedgerEntry{}, fmt.Errorf("encode ledger entry: %w", err)
		}
		_, err = kv.Update(ctx, key, v, rev)
		switch {
		case err == nil:
			return next.LedgerEntry, nil
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // another writer won: read its change and apply fn to it
		case transient(ctx, err):
			sent = v // read again: it landed, or fn is applied anew
			continue
		default:
			return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry %s: %w", id, err)
		}
	}
	return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry %s: changed concurrently %d times in a row", id, maxTries)
}

// transient reports whether a request's error may pass by itself: no server
// answered for the stream (its leader is being elected, e.g. after a
// server's loss), JetStream is electing its meta leader, or the request
// timed out while ctx still runs.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == codeNotAvailable {
		return true
	}
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}
