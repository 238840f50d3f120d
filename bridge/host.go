package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// hostHub routes cif.* attempts to connected host peers; it is the Backend
// when --backend host is chosen.
type hostHub struct {
	s   *Server
	seq atomic.Int64

	// mu guards the routing table.
	mu       sync.Mutex
	wildcard []*hostPeer            // serve every session; newest last
	bySess   map[string][]*hostPeer // serve listed sessions; newest last
}

type hostPeer struct {
	name string
	conn *rpcconn.Conn
	all  bool
	list []string
}

func newHostHub(s *Server) *hostHub { return &hostHub{s: s, bySess: map[string][]*hostPeer{}} }

func (h *hostHub) Name() string { return "host" }

// localHosts is the hub without Config.HostFallback: what this node serves
// to other nodes of a cluster (no call goes round between nodes).
type localHosts struct{ h *hostHub }

func (l localHosts) Name() string { return "host" }

func (l localHosts) Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	return l.h.executeLocal(ctx, a, nil)
}

// LocalHosts is a backend of this node's host peers only, never
// Config.HostFallback, for serving them to a cluster.
func (s *Server) LocalHosts() backend.Backend { return localHosts{s.hosts} }

// HostSessions returns the sessions this node's host peers serve by name,
// and whether one serves every session ("*").
func (s *Server) HostSessions() (sessions []string, all bool) { return s.hosts.served() }

// pick returns the newest host serving session, or nil.
func (h *hostHub) pick(session string) *hostPeer {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.bySess[session]; len(l) > 0 {
		return l[len(l)-1]
	}
	if len(h.wildcard) > 0 {
		return h.wildcard[len(h.wildcard)-1]
	}
	return nil
}

func (h *hostHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[*hostPeer]bool{}
	for _, p := range h.wildcard {
		seen[p] = true
	}
	for _, l := range h.bySess {
		for _, p := range l {
			seen[p] = true
		}
	}
	return len(seen)
}

// Execute sends the call to the session's host peer with the session id added
// to the params, and waits for its answer.
func (h *hostHub) Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	p := h.pick(a.Session)
	if p == nil && h.s.cfg.HostFallback != nil {
		return h.s.cfg.HostFallback.Execute(ctx, a) // a host peer on another node
	}
	return h.executeLocal(ctx, a, p)
}

// executeLocal is Execute on this node's host peers only (p: the one
// picked, or nil).
func (h *hostHub) executeLocal(ctx context.Context, a *correlation.Attempt, p *hostPeer) (json.RawMessage, error) {
	if p == nil {
		p = h.pick(a.Session)
	}
	if p == nil {
		return nil, protocol.NewNoBackendError(false,
			"no host peer serves session %s: connect one on %s and send host.hello", a.Session, protocol.PathHost)
	}
	raw, err := a.RawParams()
	if err != nil {
		h.s.log.Error().Err(err).Str("method", a.Method).Str("attempt", a.ID).Msg("encode attempt params for the host peer")
		return nil, protocol.ErrInternal
	}
	params, err := withSession(raw, a.Session)
	if err != nil {
		return nil, err
	}
	var observe func(dir string, msg []byte)
	if h.s.cfg.OnFrame != nil {
		observe = func(dir string, msg []byte) { h.s.frame(a.Session, "host", dir, msg) }
	}
	res, err := p.conn.CallObserved(ctx, a.Method, params, observe)
	if errors.Is(err, rpcconn.ErrNotSent) {
		return nil, protocol.NewNoBackendError(false, "the host peer %s disconnected before the call was sent", p.name)
	}
	if errors.Is(err, rpcconn.ErrClosed) {
		return nil, protocol.NewNoBackendError(true, "the host peer %s disconnected before answering", p.name)
	}
	return res, err
}

// withSession returns the params object with "session" set to the bridge's
// session id. The params are decoded and encoded again, never spliced, so
// the host always gets one valid object with exactly one "session" member. A
// widget that names a session itself (in any letter case: parsers such as
// Go's match member names case-insensitively) is refused: only the bridge
// says which session a call belongs to.
func withSession(params json.RawMessage, session string) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if t := bytes.TrimSpace(params); len(t) > 0 && string(t) != "null" {
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, protocol.InvalidParams("params must be a JSON object with named members")
		}
	}
	for k := range m {
		if strings.EqualFold(k, "session") {
			return nil, protocol.InvalidParams("params must not carry %q: the bridge tells the host peer which session a call belongs to; remove the member", k)
		}
	}
	m["session"] = jsonString(session)
	return json.Marshal(m)
}

// changed tells Config.OnHostsChanged that the routing table changed.
func (h *hostHub) changed() {
	if h.s.cfg.OnHostsChanged != nil {
		h.s.cfg.OnHostsChanged()
	}
}

// served returns the sessions this node's host peers serve by name, and
// whether one serves every session.
func (h *hostHub) served() (sessions []string, all bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.bySess {
		sessions = append(sessions, id)
	}
	return sessions, len(h.wildcard) > 0
}

func (h *hostHub) register(p *hostPeer) {
	defer h.changed()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(p)
	if p.all {
		h.wildcard = append(h.wildcard, p)
		return
	}
	for _, id := range p.list {
		h.bySess[id] = append(h.bySess[id], p)
	}
}

func (h *hostHub) remove(p *hostPeer) {
	defer h.changed()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(p)
}

func (h *hostHub) removeLocked(p *hostPeer) {
	h.wildcard = without(h.wildcard, p)
	for id, l := range h.bySess {
		if l = without(l, p); len(l) == 0 {
			delete(h.bySess, id)
		} else {
			h.bySess[id] = l
		}
	}
}

func without(l []*hostPeer, p *hostPeer) []*hostPeer {
	out := l[:0]
	for _, x := range l {
		if x != p {
			out = append(out, x)
		}
	}
	return out
}

// hostConn serves one host peer's requests (host.hello, host.raiseEvent).
type hostConn struct {
	s    *Server
	name string // "host-N", fixed
	// mu guards peer: host.hello calls may run concurrently (a batch).
	mu   sync.Mutex
	peer *hostPeer
}

// current returns the peer this connection registered last.
func (hc *hostConn) current() *hostPeer {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.peer
}

func (s *Server) serveHost(w http.ResponseWriter, r *http.Request) (serve func()) {
	ws := s.accept(w, r, "host")
	if ws == nil {
		return nil
	}
	name := "host-" + strconv.FormatInt(s.hosts.seq.Add(1), 10)
	log := s.log.With().Str("role", "host").Str("host", name).Str("remote", r.RemoteAddr).Logger()
	hc := &hostConn{s: s, name: name, peer: &hostPeer{name: name}}
	logs := logcap.NewSampler(logSampleInterval)
	c := rpcconn.New(s.base, ws, hc, s.connOptions(log, rpcconn.Options{
		Wire: rpcconn.WireOf(w),
		OnUnmatched: func(m *protocol.Message) {
			if ok, n := logs.Allow("unmatched"); ok {
				log.Warn().Int("alsoUnmatched", n).Msg("host answered a call that is no longer pending (more within 10 s are counted, not logged)")
			}
		},
	}))
	hc.peer.conn = c
	tracked := s.track(c)
	s.metrics.conns.WithLabelValues("host").Inc()
	log.Info().Msg("host peer connected")
	return func() {
		err := c.Run()
		s.hosts.remove(hc.current())
		s.metrics.conns.WithLabelValues("host").Dec()
		s.untrack(c)
		ev := log.Info()
		if err != nil {
			ev = log.Warn().Err(err)
		}
		ev.Msg("host peer disconnected; its in-flight calls failed with -32002")
		if tracked {
			s.connWG.Done()
		}
	}
}

func (hc *hostConn) HandleNotification(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) {
	if _, err := hc.HandleCall(ctx, c, m); err != nil {
		hc.s.log.Debug().Str("method", m.Method).Err(err).Msg("host notification failed")
	}
}

func (hc *hostConn) HandleCall(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) (json.RawMessage, error) {
	switch m.Method {
	case protocol.MethodHostHello:
		var p protocol.HostHelloParams
		if err := protocol.DecodeParams(m.Params, &p); err != nil {
			return nil, err
		}
		peer := &hostPeer{name: hc.name, conn: c}
		if p.Name != "" {
			peer.name = p.Name + " (" + hc.name + ")"
		}
		switch {
		case len(p.Sessions) == 0 || string(p.Sessions) == `"*"`:
			peer.all = true
		default:
			if err := json.Unmarshal(p.Sessions, &peer.list); err != nil || len(peer.list) == 0 {
				return nil, protocol.InvalidParams(`"sessions" must be "*" or a non-empty array of session ids`)
			}
			for _, id := range peer.list {
				if !protocol.SessionIDValid(id) {
					return nil, protocol.InvalidParams("\"sessions\": %q is not a valid session id", id)
				}
			}
		}
		// The swap is one step under hc.mu: of two host.hello in one batch,
		// the later one's peer is the only one left registered.
		hc.mu.Lock()
		hc.s.hosts.remove(hc.peer)
		hc.peer = peer
		hc.s.hosts.register(peer)
		hc.mu.Unlock()
		hc.s.log.Info().Str("host", logcap.Str(peer.name)).Bool("all", peer.all).Int("sessionCount", len(peer.list)).
			Strs("sessions", peer.list[:min(len(peer.list), 8)]).Msg("host peer serves sessions (the first 8 listed)")
		return protocol.Raw(protocol.HostHelloResult{Host: peer.name, Sessions: peer.list, All: peer.all})
	case protocol.MethodHostRaiseEvent:
		var p protocol.RaiseEventParams
		if err := protocol.DecodeParams(m.Params, &p); err != nil {
			return nil, err
		}
		return hc.s.RaiseEvent(ctx, p.Session, p.EventType, p.EventData)
	}
	return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %q (host peers may call %s and %s)", m.Method, protocol.MethodHostHello, protocol.MethodHostRaiseEvent)
}
