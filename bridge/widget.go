package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// widgetConn serves one widget WebSocket.
type widgetConn struct {
	s    *Server
	conn *rpcconn.Conn
	// sess is changed only by bridge.hello (resume), under helloMu.
	sess atomicSession
	log  zerolog.Logger
	// logs samples the lines a client can cause at will (refusals,
	// unmatched answers): one per reason per interval.
	logs *logcap.Sampler
	// helloMu serialises this connection's bridge.hello calls (a batch may
	// hold several), so that the connection belongs to one session at a time.
	helloMu sync.Mutex
	// last is the series of the method this connection called last
	// (method), shared by the calls it serves at once.
	last atomic.Pointer[methodSeries]
}

// method returns the metrics series of a method's label, with its CIF
// spec: a call asks for it three times (inline, cifCall, the metrics), and
// a connection mostly calls a method again, so the last one is kept and a
// call costs at most one map look-up. A method outside the label set gets
// the "other" series (spec nil), never kept.
func (wc *widgetConn) method(name string) *methodSeries {
	if ms := wc.last.Load(); ms != nil && ms.label == name {
		return ms
	}
	ms := wc.s.metrics.series(name)
	if ms.label == name {
		wc.last.Store(ms)
	}
	return ms
}

func (s *Server) serveWidget(w http.ResponseWriter, r *http.Request) (serve func()) {
	ws := s.accept(w, r, "widget")
	if ws == nil {
		return nil
	}
	timeout, _ := s.timeoutFor(s.cfg.Profile)
	log := s.log.With().Str("role", "widget").Str("remote", r.RemoteAddr).Logger()
	wc := &widgetConn{s: s, log: log, logs: logcap.NewSampler(logSampleInterval)}
	opts := rpcconn.Options{
		Wire:   rpcconn.WireOf(w),
		Admit:  wc.admit,
		Inline: wc.inline,
		OnUnmatched: func(m *protocol.Message) {
			if ok, n := wc.logs.Allow("unmatched"); ok {
				log.Warn().Str("session", wc.sess.Load().ID).Int("alsoUnmatched", n).
					Msg("widget answered a request that is no longer pending (answered after its timeout); more such answers within 10 s are counted, not logged")
			}
		},
	}
	if s.cfg.OnFrame != nil {
		// Only with capture on: a hook lets rpcconn's reader write an
		// inline call's answer itself only while no hook can hold it.
		opts.OnFrame = func(dir string, msg []byte) { s.frame(wc.sess.Load().ID, "widget", dir, msg) }
	}
	c := rpcconn.New(s.base, ws, wc, s.connOptions(log, opts))
	wc.conn = c
	sess := s.sessions.open(s.cfg.Profile, timeout, c)
	wc.sess.Store(sess)
	tracked := s.track(c)
	s.metrics.conns.WithLabelValues("widget").Inc()
	log.Info().Str("session", sess.ID).Str("subprotocol", ws.Subprotocol()).Msg("widget connected")
	return func() {
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
		if tracked {
			s.connWG.Done()
		}
	}
}

// inline picks the calls the connection's reader serves itself
// (rpcconn.Options.Inline): a CIF call under the CIF timeout that the
// session's backend answers at once (backend.Prompt). Its answer is as
// exact as on a goroutine of its own: one that comes at or after the
// deadline is still a -32000 and a late record (correlation.DoBegin).
func (wc *widgetConn) inline(m *protocol.Message) bool {
	p := wc.s.prompt
	if p == nil {
		return false
	}
	spec := wc.method(m.Method).spec
	return spec != nil && spec.Answer == protocol.AnswerBackend && spec.Timeout == protocol.TimeoutCIF && p.Prompt(m.Method)
}

func (wc *widgetConn) HandleNotification(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) {
	// Widgets have nothing to notify the bridge of; a notification of a known
	// method is served and its result discarded, as JSON-RPC says.
	if _, err := wc.HandleCall(ctx, c, m); err != nil {
		wc.log.Debug().Str("method", logcap.Str(m.Method)).Err(err).Msg("notification failed (no reply is sent for notifications)")
	}
}

func (wc *widgetConn) HandleCall(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) (json.RawMessage, error) {
	sess := wc.sess.Load()
	// The request's duration counts from when its frame was read, as its
	// CIF timeout does (one clock read fewer per call).
	start := m.Received
	if start.IsZero() {
		start = time.Now()
	}
	res, answered, err := wc.route(ctx, sess, m)
	if err != nil && context.Cause(ctx) == errShuttingDown && !ownShutdownAnswer(err) {
		err = errShuttingDown
	}
	wc.s.metrics.observeOn(wc.method(m.Method), start, answered, err)
	return res, err
}

// ownShutdownAnswer reports whether err already tells the widget what the
// shutdown did to its call (a -32007 with data.delivered, or a -32005
// listing the attempts and the ledger entry): it must not be replaced by a
// bare -32007.
func ownShutdownAnswer(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == protocol.CodeShuttingDown && len(pe.Data) > 0 || pe.Code == protocol.CodeRetriesExhausted
}

// route serves m; answered is when its answer was had, when the attempt's
// clock read tells (correlation.Sent.Answered), else zero.
func (wc *widgetConn) route(ctx context.Context, sess *Session, m *protocol.Message) (res json.RawMessage, answered time.Time, err error) {
	switch {
	case m.Method == protocol.MethodHello:
		res, err = wc.hello(m)
		return res, answered, err
	case strings.HasPrefix(m.Method, protocol.CIFPrefix):
		return wc.cifCall(ctx, sess, m)
	}
	if h, ok := wc.s.methods[m.Method]; ok {
		res, err = h(ctx, WidgetCall{Session: sess, RequestID: m.ID, Method: m.Method, Params: m.Params})
		return res, answered, err
	}
	if strings.HasPrefix(m.Method, "enreach.") {
		return nil, answered, protocol.Errorf(protocol.CodeNoBackend, "%s is not available on this bridge: it needs the retry engine or an Enreach upstream (--enreach-url)", m.Method)
	}
	return nil, answered, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %q (see the protocol summary in README.md)", m.Method)
}

// hello answers bridge.hello: picks the profile, resumes a session by id
// and its resume token.
func (wc *widgetConn) hello(m *protocol.Message) (json.RawMessage, error) {
	var p protocol.HelloParams
	if err := protocol.DecodeParams(m.Params, &p); err != nil {
		return nil, err
	}
	if p.Role != "" && p.Role != "widget" {
		return nil, protocol.InvalidParams("\"role\" must be \"widget\" on %s (host peers connect to %s)", protocol.PathWidget, protocol.PathHost)
	}
	if p.Session != "" && !protocol.SessionIDValid(p.Session) {
		return nil, protocol.InvalidParams("\"session\" must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
	}
	wc.helloMu.Lock()
	defer wc.helloMu.Unlock()
	cur := wc.sess.Load()
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
		adopted, err := wc.resumeElsewhere(p, profile, timeout)
		if err != nil {
			return nil, err
		}
		if adopted != nil {
			sess, resumed = adopted, true
			wc.sess.Store(sess)
			wc.s.sessions.detach(cur, wc.conn, true)
			wc.s.log.Info().Str("session", sess.ID).Msg("session moved here from another node of the cluster")
		} else {
			var moved []*rpcconn.Conn
			sess, resumed, moved, err = wc.s.sessions.take(p.Session, p.ResumeToken, profile, timeout, wc.conn)
			if err != nil {
				wc.s.log.Warn().Str("session", p.Session).Str("current", cur.ID).Bool("tokenGiven", p.ResumeToken != "").
					Msg("refused to resume a session without its resume token")
				return nil, err
			}
			wc.sess.Store(sess)
			wc.s.sessions.detach(cur, wc.conn, true)
			for _, old := range moved {
				old.Close(protocol.CloseSessionMoved, "session "+sess.ID+" was resumed by another connection")
			}
			if len(moved) > 0 {
				wc.s.log.Info().Str("session", sess.ID).Int("closed", len(moved)).Msg("session moved to a new connection; the old one is closed with 4001")
			}
		}
	}
	sess.mu.Lock()
	sess.profile = profile
	sess.timeout.Store(int64(timeout))
	if p.Client != "" {
		sess.client = p.Client
	}
	if p.EnreachToken != "" {
		sess.enreachToken = p.EnreachToken
	}
	sess.mu.Unlock()
	wc.s.log.Info().Str("session", sess.ID).Str("profile", profile).Bool("resumed", resumed).Str("client", logcap.Str(p.Client)).Msg("hello")
	if hook := wc.s.cfg.OnHello; hook != nil {
		ctx, cancel := context.WithTimeout(wc.s.base, 5*time.Second)
		err := hook(ctx, Hello{Session: sess.ID, ResumeToken: sess.resumeToken, Profile: profile, Resumed: resumed})
		cancel()
		if err != nil {
			wc.s.log.Warn().Err(err).Str("session", sess.ID).Msg("the cluster's session registry did not record the session: it resumes on this node only")
		}
	}
	return protocol.Raw(protocol.HelloResult{Session: sess.ID, Profile: profile, TimeoutMs: timeout.Milliseconds(),
		Version: wc.s.cfg.Version, Resumed: resumed, ResumeToken: sess.resumeToken})
}

// Hello is what Config.OnHello is told of a bridge.hello.
type Hello struct {
	Session     string
	ResumeToken string // the session's secret: never log or store it as is
	Profile     string
	Resumed     bool // an existing session (here or moved from another node)
}

// resumeElsewhere moves session p.Session here from the node of the
// cluster that holds it (Config.ResumeElsewhere), which checks the resume
// token and closes its own connections: the adopted session, or nil when
// no other node holds it (or this one does) and take decides.
func (wc *widgetConn) resumeElsewhere(p protocol.HelloParams, profile string, timeout time.Duration) (*Session, error) {
	hook := wc.s.cfg.ResumeElsewhere
	if hook == nil || wc.s.sessions.get(p.Session) != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(wc.s.base, 5*time.Second)
	defer cancel()
	found, err := hook(ctx, p.Session, p.ResumeToken)
	if err != nil || !found {
		return nil, err
	}
	return wc.s.sessions.adopt(p.Session, p.ResumeToken, profile, timeout, wc.conn), nil
}

// ReleaseSession gives a session of this node up to another node of the
// cluster that its widget resumed it on: with the right resume token the
// session is forgotten here and its connections are closed with 4001
// (CloseSessionMoved); a wrong token is -32004. found is false when this
// node does not hold the session.
func (s *Server) ReleaseSession(session, token string) (found bool, err error) {
	conns, found, err := s.sessions.release(session, token)
	for _, c := range conns {
		c.Close(protocol.CloseSessionMoved, "session "+session+" was resumed on another node")
	}
	if len(conns) > 0 {
		s.log.Info().Str("session", session).Int("closed", len(conns)).Msg("session moved to another node; its connections here are closed with 4001")
	}
	return found, err
}
