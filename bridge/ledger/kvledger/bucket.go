package kvledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the bucket's name.
const DefaultBucket = "cifbridge_ledger"

// MaxReplicas is how many copies of the bucket Open asks for.
const MaxReplicas = 3

// JetStream error codes (nats-server's jetstream_errors_generated.go): the
// cluster has fewer servers than the replicas asked for; or it is electing.
const (
	codeNoPeers      = 10005 // no suitable peers for placement
	codeInsufficient = 10023 // insufficient resources
	codeNotClustered = 10074 // replicas > 1 not supported in non-clustered mode
	codeNotAvailable = 10008 // JetStream system temporarily unavailable
)

// streamConfig is a KV bucket's stream as jetstream.CreateKeyValue makes it,
// with direct get off: a read then goes to the stream's leader, which has
// every acknowledged write, instead of any replica.
func streamConfig(bucket string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              "KV_" + bucket,
		Description:       "cifbridge duplicate ledger: one key per entry (entry.<id>) and the pruned counters (meta.pruned)",
		Subjects:          []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject: 1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		AllowRollup:       true,
		DenyDelete:        true,
		Duplicates:        2 * time.Minute,
		Discard:           jetstream.DiscardNew,
		AllowDirect:       false,
	}
}

// bind finds or creates the bucket; see Open. It is called again until it
// succeeds, so each step tolerates a bucket another node made meanwhile.
func (s *Store) bind(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := s.js.KeyValue(ctx, s.cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if err := s.create(ctx); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, err
		}
		kv, err = s.js.KeyValue(ctx, s.cfg.Bucket)
	}
	if err != nil {
		return nil, err
	}
	s.scaleUp(ctx)
	return kv, nil
}

// create makes the bucket with as many replicas as the cluster has
// servers, at most cfg.Replicas.
func (s *Store) create(ctx context.Context) error {
	for r := s.cfg.Replicas; r >= 1; r-- {
		_, err := s.js.CreateStream(ctx, streamConfig(s.cfg.Bucket, r))
		if err == nil {
			s.logReplicas(r, "created the ledger bucket")
			return nil
		}
		if !tooFewServers(err) {
			return fmt.Errorf("create ledger bucket %s (R%d): %w", s.cfg.Bucket, r, err)
		}
	}
	return fmt.Errorf("create ledger bucket %s: no JetStream server took it", s.cfg.Bucket)
}

// scaleUp raises the bucket's replicas towards cfg.Replicas when servers
// joined since it was made with fewer. Failing to is no error: the bucket
// works with what it has, and the next node to start tries again.
func (s *Store) scaleUp(ctx context.Context) {
	st, err := s.js.Stream(ctx, "KV_"+s.cfg.Bucket)
	if err != nil {
		s.cfg.Log.Warn().Err(err).Msg("ledger bucket: could not read its replicas")
		return
	}
	have := st.CachedInfo().Config.Replicas
	for r := s.cfg.Replicas; r > have; r-- {
		cfg := st.CachedInfo().Config
		cfg.Replicas = r
		_, err := s.js.UpdateStream(ctx, cfg)
		if err == nil {
			s.logReplicas(r, fmt.Sprintf("raised the ledger bucket's replicas from %d", have))
			return
		}
		if !tooFewServers(err) {
			s.cfg.Log.Warn().Err(err).Int("replicas", have).Msg("ledger bucket: could not raise its replicas; it keeps the ones it has")
			return
		}
	}
	s.logReplicas(have, "ledger bucket open")
}

func (s *Store) logReplicas(r int, msg string) {
	s.replicas.Store(int32(r))
	if r < MaxReplicas && r < s.cfg.Replicas {
		s.cfg.Log.Warn().Int("replicas", r).Str("bucket", s.cfg.Bucket).
			Msgf("%s with %d replica(s): the NATS cluster has fewer than %d JetStream servers now, so losing a server can lose ledger entries; the next node to start with more servers raises it", msg, r, MaxReplicas)
		return
	}
	s.cfg.Log.Info().Int("replicas", r).Str("bucket", s.cfg.Bucket).Msg(msg)
}

// tooFewServers reports whether err says the cluster cannot place that
// many replicas.
func tooFewServers(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case codeNoPeers, codeInsufficient, codeNotClustered:
		return true
	}
	return false
}
