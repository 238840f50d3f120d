package bridge

import (
	"crypto/rand"
	"crypto/subtle"
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
	// resumeToken is the session's secret, set at creation: bridge.hello
	// returns it and resuming the session by id needs it. Never logged.
	resumeToken string

	inflight atomic.Int64
	adm      admission // admission.go: call-rate limiter, release func

	// mu guards the fields below.
	mu      sync.Mutex
	profile string
	// timeout is the CIF timeout (nanoseconds), written under mu with
	// profile and read without it on every call (Timeout).
	timeout      atomic.Int64
	client       string
	enreachToken string
	conns        []*rpcconn.Conn // newest last
	expiry       *time.Timer     // runs while no connection is attached
	// gen counts attach and detach: an expiry timer that fired for an
	// older state finds it changed and does nothing.
	gen uint64
}

// Profile returns the session's profile and CIF timeout.
func (s *Session) Profile() (string, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profile, s.Timeout()
}

// Timeout returns the session's CIF timeout, taking no lock: every call
// reads it.
func (s *Session) Timeout() time.Duration { return time.Duration(s.timeout.Load()) }

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
	return protocol.SessionSummary{ID: s.ID, Profile: s.profile, TimeoutMs: s.Timeout().Milliseconds(), Client: s.client,
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

// newResumeToken returns 128 random bits in hex.
func newResumeToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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

// errResume is the -32004 for a resume without the session's token.
func errResume(id string) error { return protocol.NewResumeRefusedError(id) }

// open registers a new session with a fresh id and c attached.
func (r *sessions) open(profile string, timeout time.Duration, c *rpcconn.Conn) *Session {
	s := &Session{ID: newSessionID(), Created: time.Now(), resumeToken: newResumeToken(), profile: profile}
	s.timeout.Store(int64(timeout))
	s.conns = []*rpcconn.Conn{c}
	r.mu.Lock()
	r.m[s.ID] = s
	r.mu.Unlock()
	return s
}

// take attaches c to session id, all under the registry's lock so that
// no expiry runs in between. A live session needs its resume token (else
// -32004); it then moves to c, and the connections it had are returned for
// the caller to close. An unknown id (the bridge restarted, or the session
// expired) becomes a new session with that id and a fresh token.
func (r *sessions) take(id, token, profile string, timeout time.Duration, c *rpcconn.Conn) (s *Session, resumed bool, moved []*rpcconn.Conn, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s = r.m[id]
	if s == nil {
		s = &Session{ID: id, Created: time.Now(), resumeToken: newResumeToken(), profile: profile}
		s.timeout.Store(int64(timeout))
		s.conns = []*rpcconn.Conn{c}
		r.m[id] = s
		return s, false, nil, nil
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.resumeToken)) != 1 {
		return nil, false, nil, errResume(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	moved = s.conns
	s.conns = []*rpcconn.Conn{c}
	s.gen++
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	return s, true, moved, nil
}

// adopt registers session id, which moved here from another node with its
// resume token, with c attached. It returns nil when id is live here
// already (take serves it then).
func (r *sessions) adopt(id, token, profile string, timeout time.Duration, c *rpcconn.Conn) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[id] != nil {
		return nil
	}
	s := &Session{ID: id, Created: time.Now(), resumeToken: token, profile: profile}
	s.timeout.Store(int64(timeout))
	s.conns = []*rpcconn.Conn{c}
	r.m[id] = s
	return s
}

// release gives session id up to another node that a widget resumed it
// on: with the right token the session is forgotten here (onGone runs)
// and its connections are returned for the caller to close; a wrong token
// is -32004 and changes nothing; an unknown id is found false.
func (r *sessions) release(id, token string) (conns []*rpcconn.Conn, found bool, err error) {
	r.mu.Lock()
	s := r.m[id]
	if s == nil {
		r.mu.Unlock()
		return nil, false, nil
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.resumeToken)) != 1 {
		r.mu.Unlock()
		return nil, true, errResume(id)
	}
	delete(r.m, id)
	s.mu.Lock()
	conns = s.conns
	s.conns = nil
	s.gen++
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.mu.Unlock()
	r.mu.Unlock()
	if r.onGone != nil {
		r.onGone(s)
	}
	return conns, true, nil
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
			s.gen++ // only a change: a running timer stays valid otherwise
			break
		}
	}
	gen := s.gen
	empty := len(s.conns) == 0
	if empty && !drop && s.expiry == nil {
		s.expiry = time.AfterFunc(r.resume, func() { r.expire(s, gen) })
	}
	s.mu.Unlock()
	if empty && drop {
		r.expire(s, gen)
	}
}

// expire forgets s when it is still the registered session of its id, still
// has no connection and has not changed since gen. Only then does onGone run
// (it forgets the session's state by id, which must not hit a live session).
func (r *sessions) expire(s *Session, gen uint64) {
	r.mu.Lock()
	s.mu.Lock()
	gone := len(s.conns) == 0 && s.gen == gen && r.m[s.ID] == s
	if gone {
		delete(r.m, s.ID)
		s.expiry = nil
	}
	s.mu.Unlock()
	r.mu.Unlock()
	if gone && r.onGone != nil {
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
