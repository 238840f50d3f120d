package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// Session is one widget session. It outlives its connections for the resume
// window so a reconnecting widget keeps its id, its late answers and its
// ledger entries.
type Session struct {
	ID      string
	Created time.Time

	inflight atomic.Int64
	adm      admission // admission.go: call-rate limiter, release func

	// mu guards the fields below.
	mu           sync.Mutex
	profile      string
	timeout      time.Duration
	client       string
	enreachToken string
	conns        []*rpcconn.Conn // newest last
	expiry       *time.Timer     // runs while no connection is attached
}

// Profile returns the session's profile and CIF timeout.
func (s *Session) Profile() (string, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profile, s.timeout
}

// EnreachToken is the per-session Enreach token from bridge.hello, if any.
func (s *Session) EnreachToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enreachToken
}

// conn returns the newest connection, or nil.
func (s *Session) conn() *rpcconn.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return nil
	}
	return s.conns[len(s.conns)-1]
}

// Summary returns the session's summary as it is now.
func (s *Session) Summary() protocol.SessionSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return protocol.SessionSummary{ID: s.ID, Profile: s.profile, TimeoutMs: s.timeout.Milliseconds(), Client: s.client,
		Created: s.Created, Connections: len(s.conns)}
}

// sessions is the registry.
type sessions struct {
	resume time.Duration
	onGone func(*Session)

	mu sync.Mutex
	m  map[string]*Session
}

func newSessionID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "s" + hex.EncodeToString(b[:])
}

func (r *sessions) get(id string) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[id]
}

func (r *sessions) all() []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Session, 0, len(r.m))
	for _, s := range r.m {
		out = append(out, s)
	}
	return out
}

func (r *sessions) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// create registers a new session with id (a fresh one when empty).
func (r *sessions) create(id, profile string, timeout time.Duration) *Session {
	if id == "" {
		id = newSessionID()
	}
	s := &Session{ID: id, Created: time.Now(), profile: profile, timeout: timeout}
	r.mu.Lock()
	r.m[id] = s
	r.mu.Unlock()
	return s
}

// attach adds c to s and stops its expiry.
func (r *sessions) attach(s *Session, c *rpcconn.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, c)
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
}

// detach removes c from s; a session left without connections expires after
// the resume window (at once when drop is true).
func (r *sessions) detach(s *Session, c *rpcconn.Conn, drop bool) {
	s.mu.Lock()
	for i, x := range s.conns {
		if x == c {
			// slices.Delete clears the freed slot: append(s[:i], s[i+1:]...)
			// left the closed connection (and its buffers) referenced from
			// the backing array for the whole resume window.
			s.conns = slices.Delete(s.conns, i, i+1)
			break
		}
	}
	empty := len(s.conns) == 0
	if empty && !drop && s.expiry == nil {
		s.expiry = time.AfterFunc(r.resume, func() { r.expire(s) })
	}
	s.mu.Unlock()
	if empty && drop {
		r.expire(s)
	}
}

func (r *sessions) expire(s *Session) {
	s.mu.Lock()
	live := len(s.conns) > 0
	s.mu.Unlock()
	if live {
		return
	}
	r.mu.Lock()
	if r.m[s.ID] == s {
		delete(r.m, s.ID)
	}
	r.mu.Unlock()
	if r.onGone != nil {
		r.onGone(s)
	}
}

// stopTimers stops every expiry timer (shutdown).
func (r *sessions) stopTimers() {
	for _, s := range r.all() {
		s.mu.Lock()
		if s.expiry != nil {
			s.expiry.Stop()
		}
		s.mu.Unlock()
	}
}
