package capture

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// DefaultRecheck is how often a Router asks RouterConfig.Pending whether an
// ended session's captured attempts are still awaiting their answers.
const DefaultRecheck = 30 * time.Second

// RouterConfig configures a Router.
type RouterConfig struct {
	// Profile returns a session's profile and CIF timeout in ms for its
	// header (zero values: the Capturer's defaults). Nil means defaults.
	Profile func(session string) (profile string, timeoutMs int64)
	// Pending returns the ids of the session's backend attempts that are
	// still in flight or awaiting a late answer (the bridge's correlation
	// table). Nil means none: an ended session's file is closed at once.
	Pending func(session string) []string
	// Recheck is how often an ended session's file, kept open for late
	// answers, is checked against Pending. Zero means DefaultRecheck.
	Recheck time.Duration
	// Logger receives the close errors. The zero value discards them.
	Logger zerolog.Logger
}

// Router hands a bridge's frames (bridge.Config.OnFrame) to one capture per
// session and ends it on bridge.Config.OnSessionEnd. Its methods are safe
// for concurrent use.
//
// A session's capture opens with its first frame, except that a widget's
// leading bridge.hello request is held back until the next frame, because
// hello may change the profile and timeout that go into the header. A
// socket's frames go to the session it has when they pass, so the hello
// that resumes a session on a new socket passes under the new socket's own
// fresh session, which the bridge ends at once: that hello is moved to the
// resumed session's file, before its answer, and the fresh session leaves
// no file. A session resumed within its resume window thus keeps one file.
//
// When a session ends (it expired, was dropped at shutdown or moved to
// another node) while backend attempts of it are still in flight or late,
// its file stays open for them: the backend frames of those attempts are
// appended to it, even if a new session of the same id has started since
// (that one has a file of its own, see the package doc). The file is closed
// once every such attempt has been answered, or has left the bridge's
// correlation table (checked every Recheck), or when the Router closes. So
// a late answer that comes after the widget has gone is recorded in the
// session's one file, after everything the session did before; the
// bridge.late notice it would have caused is not (it was never sent).
type Router struct {
	c   *Capturer
	cfg RouterConfig

	// Guarded by mu.
	mu     sync.Mutex
	live   map[string]*routed   // by session id
	ended  map[string][]*routed // ended sessions kept open for late answers, oldest first
	closed bool
}

// routed is one session's capture.
type routed struct {
	id string

	// Guarded by mu.
	mu      sync.Mutex
	s       *Session
	opened  bool
	pending [][3]string // peer, dir, msg held before the header is written

	// Guarded by Router.mu, once ended.
	attempts map[string]bool // backend attempts still expected
	busy     int             // frames being written
	timer    *time.Timer     // the next Recheck
}

// NewRouter returns a Router writing to c (which may be nil: nothing is
// captured). Close it before c.
func NewRouter(c *Capturer, cfg RouterConfig) *Router {
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	cfg.Logger = cfg.Logger.With().Str("component", "capture").Logger()
	return &Router{c: c, cfg: cfg, live: map[string]*routed{}, ended: map[string][]*routed{}}
}

// Frame records one frame of session (see bridge.Config.OnFrame).
func (r *Router) Frame(session, peer, dir string, msg []byte) {
	if session == "" || !r.c.Captures(session) {
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if ended := r.ended[session]; len(ended) > 0 && peer == protocol.CapturePeerBackend {
		if id, ok := attemptID(msg); ok {
			for _, e := range ended {
				if e.attempts[id] {
					r.lateFrame(e, id, dir, msg)
					return
				}
			}
			if r.live[session] == nil {
				// An attempt the newest ended session started as it ended.
				r.lateFrame(ended[len(ended)-1], id, dir, msg)
				return
			}
		}
	}
	e := r.live[session]
	if e == nil {
		e = &routed{id: session}
		r.live[session] = e
	}
	r.mu.Unlock()
	r.write(e, peer, dir, msg)
}

// lateFrame writes a backend frame to the ended session e. Called with r.mu
// held; returns with it released.
func (r *Router) lateFrame(e *routed, attempt, dir string, msg []byte) {
	if dir == protocol.CaptureDirIn {
		delete(e.attempts, attempt)
	} else {
		e.attempts[attempt] = true
	}
	e.busy++
	r.mu.Unlock()
	r.write(e, protocol.CapturePeerBackend, dir, msg)
	r.mu.Lock()
	e.busy--
	done := r.retireLocked(e)
	r.mu.Unlock()
	if done {
		r.close(e)
	}
}

// retireLocked forgets the ended session e when nothing more is expected of
// it and no frame is being written; the caller then closes it. Called with
// r.mu held.
func (r *Router) retireLocked(e *routed) bool {
	if len(e.attempts) > 0 || e.busy > 0 {
		return false
	}
	ended := r.ended[e.id]
	i := slices.Index(ended, e)
	if i < 0 {
		return false
	}
	if ended = slices.Delete(ended, i, i+1); len(ended) == 0 {
		delete(r.ended, e.id)
	} else {
		r.ended[e.id] = ended
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	return true
}

func (r *Router) write(e *routed, peer, dir string, msg []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.opened {
		if peer == protocol.CapturePeerWidget && dir == protocol.CaptureDirIn && isHello(msg) && len(e.pending) < 4 {
			e.pending = append(e.pending, [3]string{peer, dir, string(msg)})
			return
		}
		e.openLocked(r)
	}
	e.s.Frame(peer, dir, msg)
}

// openLocked opens e's file and writes the held-back frames. Called with
// e.mu held.
func (e *routed) openLocked(r *Router) {
	prof, timeoutMs := "", int64(0)
	if r.cfg.Profile != nil {
		prof, timeoutMs = r.cfg.Profile(e.id)
	}
	e.s = r.c.Open(e.id, prof, timeoutMs)
	e.opened = true
	for _, f := range e.pending {
		e.s.Frame(f[0], f[1], []byte(f[2]))
	}
	e.pending = nil
}

// End ends session's capture (see bridge.Config.OnSessionEnd): its file is
// closed, or kept open while backend attempts of it are pending (Router).
func (r *Router) End(session string) {
	if !r.c.Captures(session) {
		return
	}
	// Asked before the session leaves r.live, and without r.mu (which
	// every frame takes): a frame that passes meanwhile still goes to the
	// session's file.
	var ids []string
	if r.cfg.Pending != nil {
		ids = r.cfg.Pending(session)
	}
	r.mu.Lock()
	e := r.live[session]
	delete(r.live, session)
	if e == nil || r.closed {
		r.mu.Unlock()
		return
	}
	if to, hellos := e.resumedAs(); to != "" {
		// The session a socket had until its hello resumed another one:
		// that hello is the resumed session's, and comes before its answer
		// (the bridge ends this session before it answers).
		r.mu.Unlock()
		for _, f := range hellos {
			r.Frame(to, f[0], f[1], []byte(f[2]))
		}
		return
	}
	if len(ids) > 0 {
		e.attempts = make(map[string]bool, len(ids))
		for _, id := range ids {
			e.attempts[id] = true
		}
		// An earlier session of this id may still wait for late answers:
		// its attempts stay its own.
		for _, old := range r.ended[session] {
			for id := range old.attempts {
				delete(e.attempts, id)
			}
		}
	}
	if len(e.attempts) == 0 {
		r.mu.Unlock()
		r.close(e)
		return
	}
	r.ended[session] = append(r.ended[session], e)
	e.timer = time.AfterFunc(r.cfg.Recheck, func() { r.recheck(e) })
	r.mu.Unlock()
	e.mu.Lock()
	if !e.opened && len(e.pending) > 0 {
		e.openLocked(r) // the file is needed for the late frames
	}
	e.mu.Unlock()
}

// resumedAs returns the session that e's held-back bridge.hello requests
// resumed, and takes them, when e holds nothing else (its socket's first
// frames were a hello naming another session): "" when not so.
func (e *routed) resumedAs() (string, [][3]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opened || len(e.pending) == 0 {
		return "", nil
	}
	var m struct {
		Params struct {
			Session string `json:"session"`
		} `json:"params"`
	}
	if json.Unmarshal([]byte(e.pending[len(e.pending)-1][2]), &m) != nil || m.Params.Session == "" || m.Params.Session == e.id {
		return "", nil
	}
	hellos := e.pending
	e.pending, e.opened = nil, true // e.s stays nil: no file
	return m.Params.Session, hellos
}

// recheck drops the attempts of ended session e that are no longer pending
// in the bridge (they ended without a frame here) and closes e when none is
// left.
func (r *Router) recheck(e *routed) {
	var ids []string
	if r.cfg.Pending != nil {
		ids = r.cfg.Pending(e.id)
	}
	still := make(map[string]bool, len(ids))
	for _, id := range ids {
		still[id] = true
	}
	r.mu.Lock()
	if r.closed || !slices.Contains(r.ended[e.id], e) {
		r.mu.Unlock()
		return
	}
	for id := range e.attempts {
		if !still[id] {
			delete(e.attempts, id)
		}
	}
	done := r.retireLocked(e)
	if !done {
		e.timer.Reset(r.cfg.Recheck)
	}
	r.mu.Unlock()
	if done {
		r.close(e)
	}
}

// close writes what e held back (a session that only said hello) and
// closes its file.
func (r *Router) close(e *routed) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.opened && len(e.pending) > 0 {
		e.openLocked(r)
	}
	e.opened, e.pending = true, nil
	if err := e.s.Close(); err != nil {
		r.cfg.Logger.Warn().Err(err).Str("session", e.id).Msg("close capture")
	}
}

// Close closes every session's file, the ones kept for late answers
// included, and stops the Router's timers. Later frames are not captured.
func (r *Router) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	all := make([]*routed, 0, len(r.live)+len(r.ended))
	for _, e := range r.live {
		all = append(all, e)
	}
	waiting := 0
	for _, ended := range r.ended {
		for _, e := range ended {
			if e.timer != nil {
				e.timer.Stop()
			}
			waiting += len(e.attempts)
			all = append(all, e)
		}
	}
	r.live, r.ended = nil, nil
	r.mu.Unlock()
	if waiting > 0 {
		r.cfg.Logger.Warn().Int("attempts", waiting).
			Msg("capture closed while ended sessions still awaited late backend answers: those answers are not in their capture files")
	}
	for _, e := range all {
		r.close(e)
	}
}

// PendingAttempts returns the ids of session's backend attempts that t
// holds in flight or as late records: RouterConfig.Pending for a bridge
// (bridge.Server.Table).
func PendingAttempts(t *correlation.Table, session string) []string {
	var ids []string
	for _, list := range [][]correlation.Info{t.InFlight(session), t.Late(session)} {
		for _, a := range list {
			if a.Kind == correlation.KindBackend {
				ids = append(ids, a.ID)
			}
		}
	}
	return ids
}

// attemptID returns the id of a backend frame (the attempt's id, a JSON
// string).
func attemptID(msg []byte) (string, bool) {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return "", false
	}
	var id string
	if json.Unmarshal(m.ID, &id) != nil || id == "" {
		return "", false
	}
	return id, true
}

// isHello reports whether msg is a bridge.hello request.
func isHello(msg []byte) bool {
	if !bytes.Contains(msg, []byte(protocol.MethodHello)) {
		return false
	}
	var m struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(msg, &m) == nil && m.Method == protocol.MethodHello
}
