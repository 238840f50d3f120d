package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/bridge/workspace"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// errShuttingDown is the cause of every context the bridge ends on shutdown.
var errShuttingDown = protocol.Errorf(protocol.CodeShuttingDown, "the bridge is shutting down: reconnect and retry")

// MethodHandler serves one widget method outside the core (retry engine,
// Enreach upstream). Errors should be *protocol.Error values.
type MethodHandler func(ctx context.Context, call WidgetCall) (json.RawMessage, error)

// WidgetCall is one widget request handed to a MethodHandler.
type WidgetCall struct {
	Session   *Session
	RequestID json.RawMessage
	Method    string
	Params    json.RawMessage
}

// Server is the bridge daemon. Create it with New.
type Server struct {
	cfg     Config
	log     zerolog.Logger
	table   *correlation.Table
	execute correlation.Exec // s.executeAttempt, bound once
	backend backend.Backend
	// prompt is the backend when it answers at once from memory (the
	// emulator), nil otherwise; begin is its Begin, bound once, then (used
	// only with capture off: see attemptOn).
	prompt backend.Prompt
	begin  correlation.Begin
	hosts  *hostHub
	// workspaces holds the agent workspace of every widget session.
	workspaces *workspace.Registry
	metrics    *metrics
	mux        *http.ServeMux

	base     context.Context // parent of every connection; ends last
	stopBase context.CancelCauseFunc
	draining atomic.Bool
	// inflight counts widget calls being served, for the drain.
	inflight lonelyCount

	sessions *sessions
	// ended keeps the last late records that ended, for the dashboard stream.
	ended endedLate
	// adoptedLate is HandleLate's hook.
	adoptedLate func(correlation.Late)

	// caps counts open WebSockets for --max-conns and --max-conns-per-ip.
	caps connCaps
	// refusals samples the log lines of refusals a client can repeat at
	// will (refusalLog).
	refusals *logcap.Sampler

	// methods is written before serving starts, read-only afterwards.
	methods map[string]MethodHandler

	// connsMu guards conns (every live WebSocket, for shutdown) and
	// connsClosed (Shutdown has taken the list: new sockets are closed).
	connsMu     sync.Mutex
	connsClosed bool
	conns       map[*rpcconn.Conn]struct{}
	connWG      sync.WaitGroup
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		methods:  map[string]MethodHandler{},
		conns:    map[*rpcconn.Conn]struct{}{},
		refusals: logcap.NewSampler(logSampleInterval),
	}
	s.base, s.stopBase = context.WithCancelCause(context.Background())
	s.metrics = newMetrics(s)
	s.execute = s.executeAttempt
	s.table = correlation.New(correlation.Config{LateWindow: cfg.LateWindow, OnLate: s.onLate})
	s.sessions = &sessions{resume: cfg.ResumeWindow, m: map[string]*Session{}, onGone: func(x *Session) {
		s.log.Debug().Str("session", x.ID).Msg("session expired")
		s.table.ForgetSession(x.ID)
		s.workspaces.Forget(x.ID)
		if cfg.OnSessionEnd != nil {
			cfg.OnSessionEnd(x.ID)
		}
	}}
	s.hosts = newHostHub(s)
	s.workspaces = workspace.NewRegistry(cfg.WorkspaceTemplates, s.raiseFromWorkspace, s.log)
	s.backend = cfg.Backend
	if cfg.HostBackend {
		s.backend = s.hosts
	}
	if p, ok := s.backend.(backend.Prompt); ok {
		s.prompt, s.begin = p, p.Begin
	}
	s.mux = s.routes()
	return s, nil
}

// Handler is the daemon's HTTP handler (WebSockets, admin, health, metrics).
func (s *Server) Handler() http.Handler { return s.checkHost(s.mux) }

// Table is the correlation table (read-only uses: listings, stats).
func (s *Server) Table() *correlation.Table { return s.table }

// HandleMethod registers h for a widget method, e.g. "enreach.xrm.createRecord".
// Call it before serving.
func (s *Server) HandleMethod(method string, h MethodHandler) { s.methods[method] = h }

// Ready reports whether the server takes new work (false once draining).
func (s *Server) Ready() bool { return !s.draining.Load() }

// timeoutFor returns the CIF timeout of a profile, honouring Config.Timeout.
func (s *Server) timeoutFor(profile string) (time.Duration, error) {
	d, err := protocol.ProfileTimeout(profile)
	if err != nil {
		return 0, err
	}
	if s.cfg.Timeout > 0 {
		d = s.cfg.Timeout
	}
	return d, nil
}

// Attempt runs one backend attempt for sess under its CIF timeout (or
// a.Timeout when set), through the correlation table. The bridge fills
// a.Session, a.Kind and a.Timeout (when zero; Config.NoTimeoutLimit for a
// NoTimeout call); the caller gives the method, params (raw, decoded or
// both), the widget request and, for a plug-in, its OnLate hook. Sent names
// the attempt and says whether it became a late record.
func (s *Server) Attempt(ctx context.Context, sess *Session, a correlation.Attempt) (json.RawMessage, correlation.Sent, error) {
	return s.attemptOn(ctx, sess, a, nil)
}

// attemptOn is Attempt on be instead of the session's backend when be is
// set (the agent workspace answers CIF 2.0 calls itself).
func (s *Server) attemptOn(ctx context.Context, sess *Session, a correlation.Attempt, be backend.Backend) (json.RawMessage, correlation.Sent, error) {
	a.Kind, a.Session = correlation.KindBackend, sess.ID
	switch {
	case a.NoTimeout:
		a.Timeout = s.cfg.NoTimeoutLimit
	case a.Timeout <= 0:
		a.Timeout = sess.Timeout()
	}
	var (
		res  json.RawMessage
		sent correlation.Sent
		err  error
	)
	switch {
	case be != nil:
		res, sent, err = s.table.Do(ctx, a, func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			return s.executeOn(ctx, a, be)
		})
	case s.begin != nil && !a.NoTimeout && s.cfg.OnFrame == nil:
		// DoBegin does not register an attempt its backend answers at
		// once. With capture on, every attempt is registered from the
		// start (Do), so that a capture kept open for a session's pending
		// attempts (capture.PendingAttempts) sees it until its answer
		// frame is written.
		res, sent, err = s.table.DoBegin(ctx, a, s.begin)
	default:
		res, sent, err = s.table.Do(ctx, a, s.execute)
	}
	if err != nil && errors.Is(err, errShuttingDown) {
		err = shutdownAnswer(err)
	}
	return res, sent, err
}

// executeAttempt is the correlation.Exec of every backend attempt: it runs a
// on the session's backend. It is a method value bound once
// (Server.execute), so an attempt allocates no closure.
func (s *Server) executeAttempt(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	return s.executeOn(ctx, a, s.backend)
}

// executeOn runs a on be, capturing the frames when capture is on.
func (s *Server) executeOn(ctx context.Context, a *correlation.Attempt, be backend.Backend) (json.RawMessage, error) {
	if s.cfg.OnFrame == nil {
		return be.Execute(ctx, a)
	}
	id, err := s.captureOut(a)
	if err != nil {
		return nil, err
	}
	res, err := be.Execute(ctx, a)
	s.captureIn(a, id, res, err)
	return res, err
}

// captureOut captures the request frame of attempt a and returns the id
// its answer is captured with.
func (s *Server) captureOut(a *correlation.Attempt) (json.RawMessage, error) {
	params, err := a.RawParams()
	if err != nil {
		s.log.Error().Err(err).Str("method", a.Method).Str("attempt", a.ID).Msg("encode attempt params for capture")
		return nil, protocol.ErrInternal
	}
	id := jsonString(a.ID)
	s.frame(a.Session, "backend", "out", protocol.AppendRequest(nil, id, a.Method, params))
	return id, nil
}

// captureIn captures the answer frame of the attempt captureOut named id.
func (s *Server) captureIn(a *correlation.Attempt, id, res json.RawMessage, err error) {
	if ea := (*correlation.ElsewhereAnswer)(nil); errors.As(err, &ea) {
		res, err = ea.Result, ea.Err // what the backend said: another node delivers it
	}
	if err != nil {
		s.frame(a.Session, "backend", "in", protocol.AppendResponse(nil, id, nil, protocol.AsError(err)))
	} else {
		s.frame(a.Session, "backend", "in", protocol.AppendResponse(nil, id, res, nil))
	}
}

// shutdownAnswer is the -32007 for an attempt the shutdown ended. err is
// errShuttingDown itself (the cause of the attempt's context) when the
// drain ran out with the attempt handed to the backend: it may have run, and
// the answer says so (data.delivered true), so nobody retries it blindly. A
// refusal before the hand-over says delivered false.
func shutdownAnswer(err error) error {
	if err == error(errShuttingDown) {
		return protocol.NewShuttingDownError(true, "the bridge is shutting down with this call in the backend's hands: it may have run; check before you retry it")
	}
	return protocol.NewShuttingDownError(false, "the bridge is shutting down: the call never reached the backend; reconnect and retry")
}

// Notify sends a notification to the session's newest connection; it is
// dropped (and false returned) when the session has none.
func (s *Server) Notify(session, method string, params any) bool {
	sess := s.sessions.get(session)
	if sess == nil {
		return false
	}
	c := sess.conn()
	if c == nil {
		return false
	}
	raw, err := protocol.Raw(params)
	if err != nil {
		s.log.Error().Err(err).Str("method", method).Msg("encode notification")
		return false
	}
	return c.Notify(method, raw) == nil
}

// Session returns a live session by id.
func (s *Server) Session(id string) *Session { return s.sessions.get(id) }

// HasAttempt reports whether attempt id is in flight or a late record in
// this node's correlation table.
func (s *Server) HasAttempt(id string) bool { return s.table.Has(id) }

// HandleLate sets the hook DeliverLate feeds besides bridge.late (the retry
// engine's, for attempts this node did not make). Call it before serving.
func (s *Server) HandleLate(fn func(correlation.Late)) { s.adoptedLate = fn }

// DeliverLate reports the late answer of an attempt another node of the
// cluster made for a session this node holds now (the node that made it
// died or gave the session up): the same logs, metrics, dashboard record
// and bridge.late as a late answer of this node's own table, then the
// HandleLate hook (the retry engine updates the ledger). False when the
// session is not held here.
func (s *Server) DeliverLate(l correlation.Late) bool {
	if s.sessions.get(l.Info.Session) == nil {
		return false
	}
	s.onLate(l)
	if fn := s.adoptedLate; fn != nil {
		fn(l)
	}
	return true
}

// onLate reports a late answer: logs, metrics, and bridge.late to the widget.
func (s *Server) onLate(l correlation.Late) {
	s.ended.add(l, time.Now())
	ev := s.log.Warn().Str("session", l.Info.Session).Str("attempt", l.Info.ID).Str("method", logcap.Str(l.Info.Method)).
		Dur("lateBy", l.LateBy).Str("state", l.Info.State)
	switch {
	case l.Expired:
		ev.Msg("no answer within the late-record window; outcome unknown")
		s.metrics.lateExpired.Inc()
		return
	case l.Err != nil:
		ev.AnErr("answer", l.Err).Msg("late answer after the CIF timeout: failure")
	default:
		ev.Msg("late answer after the CIF timeout: success")
	}
	s.metrics.lateAnswers.WithLabelValues(methodLabel(l.Info.Method)).Inc()
	if l.Info.Kind != correlation.KindBackend {
		return
	}
	p := protocol.LateParams{RequestID: l.Info.RequestID, AttemptID: l.Info.ID, Method: l.Info.Method,
		WidgetMethod: l.Info.WidgetMethod, LateByMs: l.LateBy.Milliseconds()}
	if len(p.RequestID) == 0 {
		p.RequestID = json.RawMessage("null")
	}
	if l.Err != nil {
		p.Outcome, p.Error = protocol.OutcomeFailure, protocol.AsError(l.Err)
	} else {
		p.Outcome, p.Result = protocol.OutcomeSuccess, l.Result
	}
	s.Notify(l.Info.Session, protocol.NotifyLate, p)
}

func (s *Server) frame(session, peer, dir string, msg []byte) {
	if s.cfg.OnFrame != nil {
		s.cfg.OnFrame(session, peer, dir, msg)
	}
}

// track registers a new connection for Shutdown and counts it in connWG,
// unless Shutdown already took its list of connections: c is then closed at
// once with 1001 (Shutdown would not see it) and track returns false, and
// the caller must not call connWG.Done for it. Adding to connWG only before
// Shutdown waits on it is what sync.WaitGroup requires.
func (s *Server) track(c *rpcconn.Conn) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.connsClosed {
		c.Close(websocket.StatusGoingAway, "server shutting down")
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	return true
}

func (s *Server) untrack(c *rpcconn.Conn) {
	s.connsMu.Lock()
	delete(s.conns, c)
	s.connsMu.Unlock()
}

// Shutdown drains the server: /readyz turns 503 and new work is refused with
// -32007; in-flight calls get up to Config.DrainTimeout (and ctx) to finish,
// the rest are answered with -32007; every WebSocket is closed with 1001;
// late records are ended. It returns once all connections are gone or ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.draining.Swap(true) {
		return nil
	}
	s.log.Info().Int64("inflight", s.inflight.Load()).Msg("draining: refusing new work, waiting for in-flight calls")
	drainCtx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	for s.inflight.Load() > 0 && drainCtx.Err() == nil {
		select {
		case <-drainCtx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := s.inflight.Load(); n > 0 {
		s.log.Warn().Int64("inflight", n).Msg("drain time is up: answering the remaining calls with -32007")
	}
	s.connsMu.Lock()
	s.connsClosed = true
	conns := make([]*rpcconn.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connsMu.Unlock()
	closeCtx, cancelClose := context.WithTimeout(ctx, 2*time.Second)
	defer cancelClose()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Shutdown(closeCtx, errShuttingDown, websocket.StatusGoingAway, "server shutting down") })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stopBase(errShuttingDown)
	s.sessions.stopTimers()
	s.workspaces.Close()
	tctx, tcancel := context.WithTimeout(context.Background(), time.Second)
	defer tcancel()
	_ = s.table.Close(tctx)
	return err
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
