package kvledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/internal/backoff"
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

// conflictPause waits before the try-th attempt of a compare-and-set that
// lost: a random pause up to 1 ms × try (at most 50 ms), so that writers
// racing for one key spread out instead of colliding again.
func conflictPause(ctx context.Context, try int) error {
	return sleep(ctx, rand.N(time.Duration(min(try, 50))*time.Millisecond))
}

// pause waits before the next try of a request that failed transiently:
// 50 ms, growing to 1 s.
func pause(ctx context.Context, try int) error {
	return sleep(ctx, min(time.Duration(try+1)*50*time.Millisecond, time.Second))
}

// sleep waits d or until ctx ends (then its error).
func sleep(ctx context.Context, d time.Duration) error {
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
	var kv jetstream.KeyValue
	err := backoff.Retry{Try: 2 * time.Second, Pause: 100 * time.Millisecond, MaxPause: 3 * time.Second,
		OnFail: func(err error, try int) {
			s.bindMu.Lock()
			s.bindErr = err
			s.bindMu.Unlock()
			if try == 1 || try%20 == 0 {
				s.cfg.Log.Warn().Err(err).Str("bucket", s.cfg.Bucket).
					Msg("ledger bucket not available yet (JetStream starting, or no quorum: are the other nodes up?); retrying")
			}
		}}.Do(ctx, func(ctx context.Context) (err error) {
		kv, err = s.bind(ctx)
		return err
	})
	if err != nil {
		return // closed
	}
	s.kv = kv
	close(s.ready)
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
