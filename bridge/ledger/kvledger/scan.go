package kvledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

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

// scanIdle bounds the wait for the next key of a scan, so that a scan
// whose consumer stalls (its connection lost) fails instead of hanging a
// caller without a deadline.
const scanIdle = 10 * time.Second

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
	idle := time.NewTimer(scanIdle)
	defer idle.Stop()
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return seen, false, fmt.Errorf("scan ledger: %w", ctx.Err())
		case <-idle.C:
			return seen, false, fmt.Errorf("scan ledger: nothing came for %v (NATS connection lost?)", scanIdle)
		case kve, ok := <-w.Updates():
			idle.Reset(scanIdle)
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
	p, _, _, err := s.pruned(ctx)
	if err != nil {
		return ledger.Totals{}, err
	}
	t.Suspected += p.Suspected
	t.Confirmed += p.Confirmed
	return t, nil
}
