package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// widgetConn serves one widget WebSocket.
type widgetConn struct {
	s    *Server
	conn *rpcconn.Conn
	// sess is changed only by bridge.hello (resume), under the session registry.
	sess atomicSession
}

func (s *Server) serveWidget(w http.ResponseWriter, r *http.Request) {
	ws := s.accept(w, r, "widget")
	if ws == nil {
		return
	}
	timeout, _ := s.timeoutFor(s.cfg.Profile)
	sess := s.sessions.create("", s.cfg.Profile, timeout)
	wc := &widgetConn{s: s}
	wc.sess.Store(sess)
	log := s.log.With().Str("role", "widget").Str("remote", r.RemoteAddr).Logger()
	c := rpcconn.New(s.base, ws, wc, rpcconn.Options{
		Logger:  log,
		Admit:   wc.admit,
		OnFrame: func(dir string, msg []byte) { s.frame(wc.sess.Load().ID, "widget", dir, msg) },
		OnUnmatched: func(m *protocol.Message) {
			log.Warn().Str("session", wc.sess.Load().ID).RawJSON("id", m.ID).Msg("widget answered a request that is no longer pending (answered after its timeout)")
		},
	})
	wc.conn = c
	s.sessions.attach(sess, c)
	s.track(c)
	s.connWG.Add(1)
	s.metrics.conns.WithLabelValues("widget").Inc()
	log.Info().Str("session", sess.ID).Str("subprotocol", ws.Subprotocol()).Msg("widget connected")
	err := c.Run()
	s.metrics.conns.WithLabelValues("widget").Dec()
	s.untrack(c)
	cur := wc.sess.Load()
	s.sessions.detach(cur, c, s.draining.Load())
	ev := log.Info()
	if err != nil {
		ev = log.Warn().Err(err)
	}
	ev.Str("session", cur.ID).Msg("widget disconnected")
	s.connWG.Done()
}

// admit enforces the per-session in-flight limit and refuses new work while
// draining.
func (wc *widgetConn) admit(m *protocol.Message) (func(), *protocol.Error) {
	if wc.s.draining.Load() {
		return nil, errShuttingDown
	}
	sess := wc.sess.Load()
	if n := sess.inflight.Add(1); n > int64(wc.s.cfg.MaxInFlight) {
		sess.inflight.Add(-1)
		wc.s.metrics.overloaded.Inc()
		return nil, protocol.Errorf(protocol.CodeOverloaded,
			"overloaded: this session already has %d calls in flight (--max-inflight); retry later", wc.s.cfg.MaxInFlight)
	}
	wc.s.inflight.Add(1)
	return func() {
		sess.inflight.Add(-1)
		wc.s.inflight.Add(-1)
	}, nil
}

func (wc *widgetConn) HandleNotification(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) {
	// Widgets have nothing to notify the bridge of; a notification of a known
	// method is served and its result discarded, as JSON-RPC says.
	if _, err := wc.HandleCall(ctx, c, m); err != nil {
		wc.s.log.Debug().Str("method", m.Method).Err(err).Msg("notification failed (no reply is sent for notifications)")
	}
}

func (wc *widgetConn) HandleCall(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) (json.RawMessage, error) {
	sess := wc.sess.Load()
	start := time.Now()
	res, err := wc.route(ctx, sess, m)
	if err != nil && context.Cause(ctx) == errShuttingDown {
		err = errShuttingDown
	}
	wc.s.metrics.observe(m.Method, start, err)
	return res, err
}

func (wc *widgetConn) route(ctx context.Context, sess *Session, m *protocol.Message) (json.RawMessage, error) {
	switch {
	case m.Method == protocol.MethodHello:
		return wc.hello(sess, m)
	case strings.HasPrefix(m.Method, protocol.CIFPrefix):
		return wc.cifCall(ctx, sess, m)
	}
	if h, ok := wc.s.methods[m.Method]; ok {
		return h(ctx, WidgetCall{Session: sess, RequestID: m.ID, Method: m.Method, Params: m.Params})
	}
	if strings.HasPrefix(m.Method, "enreach.") {
		return nil, protocol.Errorf(protocol.CodeNoBackend, "%s is not available on this bridge: it needs the retry engine or an Enreach upstream (--enreach-url)", m.Method)
	}
	return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %q (see the protocol summary in README.md)", m.Method)
}

// hello answers bridge.hello: picks the profile, resumes a session by id.
func (wc *widgetConn) hello(cur *Session, m *protocol.Message) (json.RawMessage, error) {
	var p protocol.HelloParams
	if err := protocol.DecodeParams(m.Params, &p); err != nil {
		return nil, err
	}
	if p.Role != "" && p.Role != "widget" {
		return nil, protocol.InvalidParams("\"role\" must be \"widget\" on %s (host peers connect to %s)", protocol.PathWidget, protocol.PathHost)
	}
	profile, _ := cur.Profile()
	if p.Profile != "" {
		profile = p.Profile
	}
	timeout, err := wc.s.timeoutFor(profile)
	if err != nil {
		return nil, protocol.InvalidParams("\"profile\": %v", err)
	}
	sess, resumed := cur, false
	if p.Session != "" && p.Session != cur.ID {
		if !protocol.SessionIDValid(p.Session) {
			return nil, protocol.InvalidParams("\"session\" must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
		}
		sess = wc.s.sessions.get(p.Session)
		if sess == nil {
			// Unknown (e.g. the bridge restarted): keep the widget's id.
			sess = wc.s.sessions.create(p.Session, profile, timeout)
		} else {
			resumed = true
		}
		wc.s.sessions.attach(sess, wc.conn)
		wc.sess.Store(sess)
		wc.s.sessions.detach(cur, wc.conn, true)
	}
	sess.mu.Lock()
	sess.profile, sess.timeout = profile, timeout
	if p.Client != "" {
		sess.client = p.Client
	}
	if p.EnreachToken != "" {
		sess.enreachToken = p.EnreachToken
	}
	sess.mu.Unlock()
	wc.s.log.Info().Str("session", sess.ID).Str("profile", profile).Bool("resumed", resumed).Str("client", p.Client).Msg("hello")
	return protocol.Raw(protocol.HelloResult{Session: sess.ID, Profile: profile, TimeoutMs: timeout.Milliseconds(), Version: wc.s.cfg.Version, Resumed: resumed})
}
