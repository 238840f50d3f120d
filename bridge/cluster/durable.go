package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cifbridge/cifbridge/internal/backoff"
	"github.com/nats-io/nats.go/jetstream"
)

// The cluster's durable state in JetStream: the session registry (a KV
// bucket), the stream of late answers and the claims on them (a KV
// bucket). Every node creates them the same way at start; creating an
// existing one with the same settings is a no-op.
const (
	// SessionsBucket holds one key per session: SessionRecord.
	SessionsBucket = "cifbridge_sessions"
	// LateStream keeps the answers that came after their CIF deadline,
	// on LateSubject(session), deduplicated by attempt id.
	LateStream = "CIFBRIDGE_LATE"
	// ClaimsBucket holds one key per late answer delivered: the node that
	// delivered it. Creating the key is the claim.
	ClaimsBucket = "cifbridge_late_claims"
)

// DurableConfig sizes the durable state.
type DurableConfig struct {
	// Replicas of every bucket and stream: 3 when the cluster has three
	// servers or more (a kill -9 of one loses nothing acknowledged), else
	// the number of servers.
	Replicas int
	// SessionTTL is how long a session's registry key lives after its last
	// refresh: a session whose node died can be resumed elsewhere that
	// long (the resume window plus the refresh interval).
	SessionTTL time.Duration
	// LateMaxAge is how long a late answer (and its claim) is kept: the
	// late-record window and then some, so a widget resuming after its node
	// died still gets it.
	LateMaxAge time.Duration
	// LateMaxBytes bounds the late-answer stream; the oldest go first.
	LateMaxBytes int64
}

// DefaultLateMaxBytes bounds the late-answer stream (64 MiB).
const DefaultLateMaxBytes = 64 << 20

// Durable is the cluster's durable state, opened by OpenDurable.
type Durable struct {
	JS       jetstream.JetStream
	Sessions jetstream.KeyValue
	Claims   jetstream.KeyValue
	Late     jetstream.Stream
}

// OpenDurable creates (or opens) the session registry, the late-answer
// stream and the claims bucket. A cluster whose JetStream has no leader
// yet (servers still starting) answers with an error: call it again.
func OpenDurable(ctx context.Context, js jetstream.JetStream, cfg DurableConfig) (*Durable, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.SessionTTL <= 0 || cfg.LateMaxAge <= 0 {
		return nil, errors.New("durable state needs a session TTL and a late-answer age")
	}
	if cfg.LateMaxBytes <= 0 {
		cfg.LateMaxBytes = DefaultLateMaxBytes
	}
	// kv creates (or opens) one of the two buckets: one value a key, kept
	// for ttl, on file, replicated like the rest.
	kv := func(bucket, what, description string, ttl time.Duration) (kv jetstream.KeyValue, err error) {
		err = settle(ctx, func(ctx context.Context) (err error) {
			kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Description: description,
				History: 1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: cfg.Replicas})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s (KV %s): %w", what, bucket, err)
		}
		return kv, nil
	}
	d := &Durable{JS: js}
	var err error
	d.Sessions, err = kv(SessionsBucket, "session registry", "cifbridge session registry: owner node, profile, resume-token hash, last seen", cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	d.Claims, err = kv(ClaimsBucket, "late-answer claims", "cifbridge late answers delivered: attempt id → node", cfg.LateMaxAge)
	if err != nil {
		return nil, err
	}
	err = settle(ctx, func(ctx context.Context) (err error) {
		d.Late, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: LateStream,
			Description: "cifbridge answers that came after their CIF deadline, by session",
			Subjects:    []string{lateSubjectPrefix + ">"}, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
			Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
			MaxAge: cfg.LateMaxAge, MaxBytes: cfg.LateMaxBytes, MaxMsgSize: MaxPayload,
			Duplicates: min(2*time.Minute, cfg.LateMaxAge)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("late-answer stream %s: %w", LateStream, err)
	}
	return d, nil
}

// settleTry bounds one create-or-update of a bucket or stream. When
// several nodes create the same one at once, nats-server answers the
// request that made it and may leave the others unanswered (the stream
// exists by then): a short try, then another (an update of the settled
// stream, answered at once), instead of waiting out the caller's
// deadline. The first node of a cluster that does this, kvledger, uses
// the same bound.
const settleTry = 2 * time.Second

// settle runs create (a create-or-update) with settleTry per try until it
// succeeds, fails with something else than an unanswered try or a
// create lost to another node's, or ctx ends.
func settle(ctx context.Context, create func(context.Context) error) error {
	return backoff.Retry{Try: settleTry, Pause: 100 * time.Millisecond, Final: func(err error) bool {
		return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) &&
			!errors.Is(err, jetstream.ErrBucketExists)
	}}.Do(ctx, create)
}
