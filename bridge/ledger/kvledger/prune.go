package kvledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cifbridge/cifbridge/bridge/ledger"
)

// prunedCounts is the value of meta.pruned.
type prunedCounts struct {
	Entries   int `json:"entries"`
	Suspected int `json:"suspected"`
	Confirmed int `json:"confirmed"`
	// Write is a random token each write sets, so that a writer whose
	// write went unanswered knows it by its bytes (see Store.Update).
	Write string `json:"write,omitempty"`
}

// pruned reads the counters (raw and decoded) and their revision (0: none
// yet), riding out transient failures.
func (s *Store) pruned(ctx context.Context) (prunedCounts, []byte, uint64, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return prunedCounts{}, nil, 0, err
	}
	for try := 0; ; try++ {
		kve, err := kv.Get(ctx, prunedKey)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return prunedCounts{}, nil, 0, nil
		case err == nil:
			var p prunedCounts
			if err := json.Unmarshal(kve.Value(), &p); err != nil {
				return prunedCounts{}, nil, 0, fmt.Errorf("read pruned ledger counters: %w", err)
			}
			return p, kve.Value(), kve.Revision(), nil
		case !transient(ctx, err) || try == maxTries:
			return prunedCounts{}, nil, 0, fmt.Errorf("read pruned ledger counters: %w", err)
		}
		if err := pause(ctx, try); err != nil {
			return prunedCounts{}, nil, 0, fmt.Errorf("read pruned ledger counters: %w", err)
		}
	}
}

// Pruned is how many entries Prune has deleted, ever (from any node).
func (s *Store) Pruned(ctx context.Context) (int, error) {
	p, _, _, err := s.pruned(ctx)
	return p.Entries, err
}

// candidate is an entry Prune judged deletable, at the revision it saw.
type candidate struct {
	key       string
	rev       uint64
	suspected bool
	confirmed bool
}

// Prune deletes the ledger.Prunable entries last updated before cutoff, in
// batches of at most ledger.MaxLimit. Each is deleted only at the revision
// Prune judged (an entry changed meanwhile waits for the next prune), and
// its flags are then added to meta.pruned by compare-and-set, so two nodes
// pruning at once count each entry once. A node that dies between the two
// writes leaves that one entry out of the counters.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune ledger: %w", err)
	}
	total := 0
	for {
		var batch []candidate
		err := s.scan(ctx, func() func(record, uint64) bool {
			batch = nil
			return func(r record, rev uint64) bool {
				if slices.Contains(ledger.Prunable, r.Status) && r.Updated.Before(cutoff) {
					batch = append(batch, candidate{key: entryPrefix + r.ID, rev: rev,
						suspected: r.EverSuspected || r.EverConfirmed, confirmed: r.EverConfirmed})
				}
				return len(batch) < ledger.MaxLimit
			}
		})
		if err != nil {
			return total, fmt.Errorf("prune ledger: %w", err)
		}
		var add prunedCounts
		for _, c := range batch {
			err := kv.Delete(ctx, c.key, jetstream.LastRevision(c.rev))
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				continue // changed (or pruned by another node) since the scan
			}
			if err != nil {
				return total, fmt.Errorf("prune ledger entry %s: %w", c.key, err)
			}
			add.Entries++
			add.Suspected += btoi(c.suspected)
			add.Confirmed += btoi(c.confirmed)
		}
		if err := s.addPruned(ctx, kv, add); err != nil {
			return total, err
		}
		total += add.Entries
		if len(batch) < ledger.MaxLimit || add.Entries == 0 {
			return total, nil
		}
	}
}

// addPruned adds to meta.pruned by compare-and-set.
func (s *Store) addPruned(ctx context.Context, kv jetstream.KeyValue, add prunedCounts) error {
	if add.Entries == 0 {
		return nil
	}
	var sent []byte // the value of a write whose outcome is unknown
	for try := range maxTries {
		if try > 0 {
			if err := conflictPause(ctx, try); err != nil {
				return fmt.Errorf("count pruned ledger entries: %w", err)
			}
		}
		p, raw, rev, err := s.pruned(ctx)
		if err != nil {
			return err
		}
		if sent != nil && bytes.Equal(raw, sent) {
			return nil // the unanswered write landed
		}
		sent = nil
		p.Entries += add.Entries
		p.Suspected += add.Suspected
		p.Confirmed += add.Confirmed
		p.Write = ledger.NewID()
		v, _ := json.Marshal(p)
		if rev == 0 {
			_, err = kv.Create(ctx, prunedKey, v)
		} else {
			_, err = kv.Update(ctx, prunedKey, v, rev)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists):
			continue
		case transient(ctx, err):
			sent = v
			continue
		default:
			return fmt.Errorf("count pruned ledger entries: %w", err)
		}
	}
	return fmt.Errorf("count pruned ledger entries: changed concurrently %d times in a row", maxTries)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
