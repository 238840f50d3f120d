package cluster

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/periodic"
	"github.com/cifbridge/cifbridge/protocol"
)

// SessionRecord is a session's key in the registry (SessionsBucket). It
// never holds the resume token, only its SHA-256.
type SessionRecord struct {
	Node      string    `json:"node"`
	Profile   string    `json:"profile,omitempty"`
	TokenHash string    `json:"tokenHash"`
	LastSeen  time.Time `json:"lastSeen"`
}

// TokenHash is the hex SHA-256 of a resume token, as the registry keeps it.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// DefaultTouchInterval is how often a node refreshes the last-seen time of
// the sessions it owns (one KV write per session per interval, never per
// frame).
const DefaultTouchInterval = 30 * time.Second

// releaseWait bounds the wait for the old owner to give a moved session
// up: a node killed a moment ago may still look subscribed.
const releaseWait = 2 * time.Second

// Registry is the cluster's session registry in JetStream KV: who owns
// each session whose widget got its resume token, so that the widget can
// resume it on any node, even after its node died. Ownership moves by
// compare-and-set on the key's revision: of two nodes taking a session at
// once, one wins.
type Registry struct {
	KV   jetstream.KeyValue
	Node string
	// ReleaseOn asks a live node to give a session up (Events.ReleaseOn):
	// it closes its sockets with 4001.
	ReleaseOn func(ctx context.Context, node, session, token string) (found bool, err error)
	Log       zerolog.Logger

	mu  sync.Mutex
	own map[string]owned // sessions this node owns
}

type owned struct {
	rev uint64
	rec SessionRecord
}

// Register records that this node owns session (bridge Config.OnHello):
// nothing to write when it is recorded already with this profile.
func (r *Registry) Register(ctx context.Context, session, token, profile string) error {
	if err := CheckService(session); err != nil {
		return err // a session id the bridge accepted is always a safe token; belt and braces
	}
	r.mu.Lock()
	o, ok := r.own[session]
	r.mu.Unlock()
	hash := TokenHash(token)
	if ok && o.rec.Profile == profile && o.rec.TokenHash == hash {
		return nil
	}
	rec := SessionRecord{Node: r.Node, Profile: profile, TokenHash: hash, LastSeen: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	var rev uint64
	var err error
	if ok {
		rev, err = r.KV.Update(ctx, session, b, o.rev)
	}
	if !ok || err != nil {
		// First time here, or the key changed since: the widget is on this
		// node now (its hello came here), so this node owns the session.
		rev, err = r.KV.Put(ctx, session, b)
	}
	if err != nil {
		return fmt.Errorf("record session %s in the registry: %w", session, err)
	}
	r.setOwn(session, owned{rev: rev, rec: rec})
	return nil
}

func (r *Registry) setOwn(session string, o owned) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.own == nil {
		r.own = map[string]owned{}
	}
	r.own[session] = o
}

// Resume moves session to this node (bridge Config.ResumeElsewhere) when
// the registry names another owner and token is the session's: the key
// changes owner by compare-and-set, then the old owner, when alive, gives
// the session up (closing its sockets with 4001). A dead owner is no
// obstacle. found is false when the registry does not know the session
// (a new session with this id, as on one node); a wrong token is the
// single-node -32004.
func (r *Registry) Resume(ctx context.Context, session, token string) (found bool, err error) {
	if CheckService(session) != nil {
		return false, nil
	}
	var lastErr error
	for try := range 20 {
		if try > 0 {
			// A replica may answer the read before it has the write that
			// beat ours, or the bucket is electing a leader (its old one
			// died): look again shortly.
			select {
			case <-ctx.Done():
				return false, protocol.NewNoBackendError(false, "the cluster's session registry is unavailable (%v): resume again in a moment", lastErr)
			case <-time.After(time.Duration(min(try, 5)) * 50 * time.Millisecond):
			}
		}
		e, err := r.KV.Get(ctx, session)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return false, nil
		}
		if err != nil {
			lastErr = err
			continue
		}
		var rec SessionRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return false, protocol.NewError(protocol.CodeInternal, "session "+session+"'s registry record cannot be decoded: "+err.Error(), nil)
		}
		if subtle.ConstantTimeCompare([]byte(TokenHash(token)), []byte(rec.TokenHash)) != 1 {
			return false, protocol.NewResumeRefusedError(session)
		}
		prev := rec.Node
		rec.Node, rec.LastSeen = r.Node, time.Now().UTC()
		b, _ := json.Marshal(rec)
		rev, err := r.KV.Update(ctx, session, b, e.Revision())
		if err != nil {
			lastErr = err // another node moved it meanwhile, or no leader: look again
			continue
		}
		r.setOwn(session, owned{rev: rev, rec: rec})
		if prev != r.Node && r.ReleaseOn != nil {
			// The old owner closes its sockets if it is alive; a dead
			// one answers nothing: at once (no responders) once the
			// servers saw its routes close, within releaseWait before.
			rctx, cancel := context.WithTimeout(ctx, releaseWait)
			_, err := r.ReleaseOn(rctx, prev, session, token)
			cancel()
			if err != nil {
				r.Log.Warn().Err(err).Str("session", session).Str("from", prev).Msg("the old owner refused to give the session up")
			}
		}
		r.Log.Info().Str("session", session).Str("from", prev).Msg("session ownership moved to this node in the registry")
		return true, nil
	}
	return false, protocol.NewNoBackendError(false, "session %s could not be moved here (%v): resume again in a moment", session, lastErr)
}

// Forget removes session from the registry when this node still owns it
// (bridge Config.OnSessionEnd): a session that moved to another node keeps
// its key, since the revision changed.
func (r *Registry) Forget(ctx context.Context, session string) {
	r.mu.Lock()
	o, ok := r.own[session]
	delete(r.own, session)
	r.mu.Unlock()
	if !ok {
		return
	}
	if err := r.KV.Delete(ctx, session, jetstream.LastRevision(o.rev)); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		r.Log.Debug().Err(err).Str("session", session).Msg("session not removed from the registry (it expires by itself)")
	}
}

// Owns reports whether the registry names this node as session's owner
// (as far as this node knows).
func (r *Registry) Owns(session string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.own[session]
	return ok
}

// Touch refreshes the last-seen time of every session this node owns,
// by compare-and-set: a session another node took meanwhile is dropped
// from this node's list. Run it every DefaultTouchInterval (RunTouch).
func (r *Registry) Touch(ctx context.Context) {
	r.mu.Lock()
	list := make(map[string]owned, len(r.own))
	for s, o := range r.own {
		list[s] = o
	}
	r.mu.Unlock()
	for s, o := range list {
		o.rec.LastSeen = time.Now().UTC()
		b, _ := json.Marshal(o.rec)
		rev, err := r.KV.Update(ctx, s, b, o.rev)
		r.mu.Lock()
		cur, still := r.own[s]
		switch {
		case !still || cur.rev != o.rev:
			// Forgotten or re-registered meanwhile.
		case err == nil:
			r.own[s] = owned{rev: rev, rec: o.rec}
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound):
			delete(r.own, s)
			r.Log.Info().Str("session", s).Msg("session taken over by another node (registry): no longer refreshed here")
		default:
			r.Log.Debug().Err(err).Str("session", s).Msg("session's last-seen time not refreshed")
		}
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

// RunTouch calls Touch every interval until ctx ends.
func (r *Registry) RunTouch(ctx context.Context, interval time.Duration) {
	periodic.Every(ctx, interval, func() {
		tctx, cancel := context.WithTimeout(ctx, interval)
		r.Touch(tctx)
		cancel()
	})
}

// Lookup returns session's registry record and whether it exists.
func (r *Registry) Lookup(ctx context.Context, session string) (SessionRecord, bool, error) {
	e, err := r.KV.Get(ctx, session)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return SessionRecord{}, false, nil
	}
	if err != nil {
		return SessionRecord{}, false, err
	}
	var rec SessionRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return SessionRecord{}, false, err
	}
	return rec, true, nil
}
