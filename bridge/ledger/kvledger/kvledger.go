package kvledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// Config configures Open. The zero value of each field means its default.
type Config struct {
	// Bucket is the KV bucket's name. Default DefaultBucket.
	Bucket string
	// Replicas is the most copies of the bucket to make. Default
	// MaxReplicas (3); fewer are made when the cluster has fewer servers.
	Replicas int
	// ReadyWait bounds how long a call waits for the bucket while JetStream
	// is not ready yet (a cluster still electing its leaders) before it
	// fails. Default 10 s.
	ReadyWait time.Duration
	// Log gets the bucket's replicas and why the bucket is not ready yet.
	// Default: no logging.
	Log zerolog.Logger
	// Now is the clock Created and Updated are read from. Default
	// time.Now.
	Now func() time.Time
}

// Store is the ledger in a JetStream KV bucket (a ledger.Store). It is safe
// for concurrent use, by any number of processes on any node.
type Store struct {
	js  jetstream.JetStream
	cfg Config

	ready    chan struct{} // closed once kv is set
	kv       jetstream.KeyValue
	replicas atomic.Int32

	// bindErr is bind's last failure, for the error of a call that waited
	// in vain.
	bindMu  sync.Mutex
	bindErr error

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	bound     chan struct{} // closed when the bind loop has returned
}

var _ ledger.Store = (*Store)(nil)

// maxTries bounds the compare-and-set loop of one write: more conflicts
// than that on one entry mean something writes it in a loop.
const maxTries = 100

// backoff waits before the try-th attempt of a compare-and-set that lost:
// a random pause up to 1 ms × try (at most 50 ms), so that writers racing
// for one key spread out instead of colliding again.
func backoff(ctx context.Context, try int) error {
	d := rand.N(time.Duration(min(try, 50)) * time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Open returns the ledger stored in the bucket cfg.Bucket of js, creating
// the bucket when missing (file storage, up to cfg.Replicas replicas: as
// many as the cluster has JetStream servers, logged). It does not wait for
// JetStream: the bucket is bound in the background, retried until it
// works (a cluster's first node waits for the others to elect a JetStream
// leader), and calls wait for it up to cfg.ReadyWait. Close stops it; it
// never closes js's connection.
func Open(js jetstream.JetStream, cfg Config) *Store {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = MaxReplicas
	}
	if cfg.ReadyWait <= 0 {
		cfg.ReadyWait = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{js: js, cfg: cfg, ready: make(chan struct{}), done: make(chan struct{}), bound: make(chan struct{})}
	go s.bindLoop()
	return s
}

// bindLoop binds the bucket, retrying with a growing pause until it works
// or the store is closed.
func (s *Store) bindLoop() {
	defer close(s.bound)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-s.bound:
		}
	}()
	pause := 100 * time.Millisecond
	for tries := 1; ; tries++ {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		kv, err := s.bind(actx)
		acancel()
		if err == nil {
			s.kv = kv
			close(s.ready)
			return
		}
		s.bindMu.Lock()
		s.bindErr = err
		s.bindMu.Unlock()
		if tries == 1 || tries%20 == 0 {
			s.cfg.Log.Warn().Err(err).Str("bucket", s.cfg.Bucket).
				Msg("ledger bucket not available yet (JetStream starting, or no quorum: are the other nodes up?); retrying")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 3*time.Second)
	}
}

// Ready is closed once the bucket is bound and the store serves calls.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Replicas is how many copies of the bucket exist (0 before Ready).
func (s *Store) Replicas() int { return int(s.replicas.Load()) }

// bucket waits for the bound bucket, at most cfg.ReadyWait.
func (s *Store) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	select {
	case <-s.done:
		return nil, ledger.ErrClosed
	default:
	}
	select {
	case <-s.ready:
		return s.kv, nil
	default:
	}
	t := time.NewTimer(s.cfg.ReadyWait)
	defer t.Stop()
	select {
	case <-s.ready:
		return s.kv, nil
	case <-s.done:
		return nil, ledger.ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("ledger bucket %s not available yet: %w", s.cfg.Bucket, ctx.Err())
	case <-t.C:
		s.bindMu.Lock()
		err := s.bindErr
		s.bindMu.Unlock()
		return nil, fmt.Errorf("ledger bucket %s not available after %v (JetStream has no quorum?): %v", s.cfg.Bucket, s.cfg.ReadyWait, err)
	}
}

// Close stops the store; it is idempotent. Calls then fail with
// ledger.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	<-s.bound
	return nil
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.cfg.Now() }

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
	if _, err := kv.Create(ctx, key, v); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return protocol.LedgerEntry{}, fmt.Errorf("%w: %s", ledger.ErrExists, e.ID)
		}
		return protocol.LedgerEntry{}, fmt.Errorf("create ledger entry: %w", err)
	}
	return e, nil
}

// get reads id's record and its revision.
func (s *Store) get(ctx context.Context, kv jetstream.KeyValue, id string) (record, uint64, error) {
	key, err := entryKey(id)
	if err != nil {
		return record{}, 0, fmt.Errorf("%w: %s", ledger.ErrNotFound, id)
	}
	kve, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return record{}, 0, fmt.Errorf("%w: %s", ledger.ErrNotFound, id)
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("get ledger entry %s: %w", id, err)
	}
	r, err := decode(kve.Value())
	return r, kve.Revision(), err
}

// Get returns one entry; the error wraps ledger.ErrNotFound when there is
// none.
func (s *Store) Get(ctx context.Context, id string) (protocol.LedgerEntry, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return protocol.LedgerEntry{}, err
	}
	r, _, err := s.get(ctx, kv, id)
	return r.LedgerEntry, err
}

// Update reads the entry, applies fn and writes the result with kv.Update
// at the revision it read; when another writer changed the entry meanwhile
// it reads it again and re-applies fn.
func (s *Store) Update(ctx context.Context, id string, fn func(*protocol.LedgerEntry) error) (protocol.LedgerEntry, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return protocol.LedgerEntry{}, err
	}
	key, _ := entryKey(id)
	for try := range maxTries {
		if try > 0 {
			if err := backoff(ctx, try); err != nil {
				return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry %s: %w", id, err)
			}
		}
		cur, rev, err := s.get(ctx, kv, id)
		if err != nil {
			return protocol.LedgerEntry{}, err
		}
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
		default:
			return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry %s: %w", id, err)
		}
	}
	return protocol.LedgerEntry{}, fmt.Errorf("update ledger entry %s: changed concurrently %d times in a row", id, maxTries)
}

// scan calls visit with every entry of the bucket, streamed (the watcher's
// buffer bounds memory), until visit returns false. begin is called before
// each pass and returns that pass's visit: a pass that turns out stale is
// thrown away and made again.
//
// The watcher's consumer may sit on a replica that lags the stream's leader
// by a few writes, so a pass that ran to its end checks that it saw the
// leader's last sequence as of its start (with one message per key and
// delete markers kept, that message or a later one of its key is always
// there to see): every write acknowledged before the scan began is in it.
// After maxStale stale passes the last one is taken, as a replica that far
// behind cannot do better.
func (s *Store) scan(ctx context.Context, begin func() func(r record, rev uint64) bool) error {
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	for pass := 1; ; pass++ {
		st, err := kv.Status(ctx)
		if err != nil {
			return fmt.Errorf("scan ledger: %w", err)
		}
		var want uint64
		if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
			want = bs.StreamInfo().State.LastSeq
		}
		seen, complete, err := s.pass(ctx, kv, begin())
		if err != nil || !complete || seen >= want || pass == maxStale {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("scan ledger: %w", ctx.Err())
		case <-time.After(time.Duration(pass) * 5 * time.Millisecond):
		}
	}
}

// maxStale is how many scan passes may come out stale before one is taken.
const maxStale = 10

// pass is one scan: it returns the highest sequence it saw and whether it
// ran to the end (visit did not stop it).
func (s *Store) pass(ctx context.Context, kv jetstream.KeyValue, visit func(r record, rev uint64) bool) (uint64, bool, error) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("scan ledger: %w", err)
	}
	defer w.Stop()
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return seen, false, fmt.Errorf("scan ledger: %w", ctx.Err())
		case kve, ok := <-w.Updates():
			if !ok {
				return seen, false, errors.New("scan ledger: the watcher stopped")
			}
			if kve == nil {
				return seen, true, nil // every key seen
			}
			seen = max(seen, kve.Revision())
			if kve.Operation() != jetstream.KeyValuePut || !strings.HasPrefix(kve.Key(), entryPrefix) {
				continue
			}
			r, err := decode(kve.Value())
			if err != nil {
				return seen, false, fmt.Errorf("%w (key %s)", err, kve.Key())
			}
			if !visit(r, kve.Revision()) {
				return seen, false, nil
			}
		}
	}
}

// List returns the entries matching f, most recently updated first. It
// scans the bucket and keeps at most twice the limit in memory.
func (s *Store) List(ctx context.Context, f ledger.Filter) ([]protocol.LedgerEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = ledger.DefaultLimit
	}
	limit = min(limit, ledger.MaxLimit)
	var out []protocol.LedgerEntry
	newest := func(a, b protocol.LedgerEntry) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return cmpString(b.ID, a.ID)
	}
	err := s.scan(ctx, func() func(record, uint64) bool {
		out = []protocol.LedgerEntry{}
		return func(r record, _ uint64) bool {
			e := r.LedgerEntry
			if f.Status != "" && e.Status != f.Status || f.Session != "" && e.Session != f.Session || !f.Since.IsZero() && e.Updated.Before(f.Since) {
				return true
			}
			out = append(out, e)
			if len(out) >= 2*limit {
				slices.SortFunc(out, newest)
				out = out[:limit]
			}
			return true
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, newest)
	return out[:min(len(out), limit)], nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Counts returns the number of entries per status (every status present).
func (s *Store) Counts(ctx context.Context) (map[protocol.LedgerStatus]int, error) {
	var out map[protocol.LedgerStatus]int
	err := s.scan(ctx, func() func(record, uint64) bool {
		out = map[protocol.LedgerStatus]int{}
		for _, st := range protocol.LedgerStatuses {
			out[st] = 0
		}
		return func(r record, _ uint64) bool {
			out[r.Status]++
			return true
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Totals returns the duplicate counters: the sticky flags of the stored
// entries plus those of the pruned ones.
func (s *Store) Totals(ctx context.Context) (ledger.Totals, error) {
	var t ledger.Totals
	err := s.scan(ctx, func() func(record, uint64) bool {
		t = ledger.Totals{}
		return func(r record, _ uint64) bool {
			if r.EverSuspected || r.EverConfirmed {
				t.Suspected++
			}
			if r.EverConfirmed {
				t.Confirmed++
			}
			return true
		}
	})
	if err != nil {
		return ledger.Totals{}, err
	}
	p, _, err := s.pruned(ctx)
	if err != nil {
		return ledger.Totals{}, err
	}
	t.Suspected += p.Suspected
	t.Confirmed += p.Confirmed
	return t, nil
}
