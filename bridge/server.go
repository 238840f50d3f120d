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
	backend backend.Backend
	hosts   *hostHub
	// workspaces holds the agent workspace of every widget session.
	workspaces *workspace.Registry
	metrics    *metrics
	mux        *http.ServeMux

	base     context.Context // parent of every connection; ends last
	stopBase context.CancelCauseFunc
	draining atomic.Bool
	// inflight counts widget calls being served, for the drain.
	inflight atomic.Int64

	sessions *sessions

	// methods is written before serving starts, read-only afterwards.
	methods map[string]MethodHandler

	// connsMu guards conns: every live WebSocket, for shutdown.
	connsMu sync.Mutex
	conns   map[*rpcconn.Conn]struct{}
	connWG  sync.WaitGroup
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		methods: map[string]MethodHandler{},
		conns:   map[*rpcconn.Conn]struct{}{},
	}
	s.base, s.stopBase = context.WithCancelCause(context.Background())
	s.metrics = newMetrics(s)
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
	s.mux = s.routes()
	return s, nil
}

// Handler is the daemon's HTTP handler (WebSockets, admin, health, metrics).
func (s *Server) Handler() http.Handler { return s.mux }

// Table is the correlation table (read-only uses: listings, stats).
func (s *Server) Table() *correlation.Table { return s.table }

// HandleMethod registers h for a widget method, e.g. "enreach.xrm.createRecord".
// Call it before serving.
func (s *Server) HandleMethod(method string, h MethodHandler) { s.methods[method] = h }

// Ready reports whether the server takes new work (false once draining).
func (s *Server) Ready() bool { return !s.draining.Load() }

// timeoutFor returns the CIF timeout of a profile, honouring Config.Timeout.
func (s *Server) timeoutFor(profile string) (time.Duration, error) {
	d, err := profileTimeout(profile)
	if err != nil {
		return 0, err
	}
	if s.cfg.Timeout > 0 {
		d = s.cfg.Timeout
	}
	return d, nil
}

// AttemptRequest is one backend attempt asked for by a plug-in.
type AttemptRequest struct {
	Session   *Session
	RequestID json.RawMessage
	Method    string          // "cif.createrecord", protocol.BackendExecute, …
	Params    json.RawMessage // validated named params
	Typed     any             // Params decoded, when the caller has them (see backend.Call.Typed)
	Received  time.Time       // when the widget's frame was read: the CIF clock starts there (zero: now)
	// WidgetMethod is the widget's method when the attempt serves another
	// one (the retry engine's cif.createrecord for enreach.xrm.createRecord).
	WidgetMethod string
	OnLate       func(correlation.Late)
	// Via, when set, executes the attempt instead of the session's backend
	// (the agent workspace for CIF 2.0 calls).
	Via backend.Backend
	// NoTimeout: a call CIF runs without a timer; the attempt waits up to
	// Config.NoTimeoutLimit and never becomes a late record.
	NoTimeout bool
}

// Attempt runs one attempt on the session's backend under its CIF timeout,
// through the correlation table. It returns the attempt id with the outcome.
func (s *Server) Attempt(ctx context.Context, r AttemptRequest) (json.RawMessage, string, error) {
	_, timeout := r.Session.Profile()
	if r.NoTimeout {
		timeout = s.cfg.NoTimeoutLimit
	}
	exec := s.backend
	if r.Via != nil {
		exec = r.Via
	}
	attemptID := s.table.NewID()
	// The exec func holds call by value (one allocation), not all of r.
	call := backend.Call{Session: r.Session.ID, Method: r.Method, Params: r.Params, Typed: r.Typed}
	res, err := s.table.Do(ctx, correlation.Attempt{
		ID: attemptID, Kind: correlation.KindBackend, Session: r.Session.ID, Method: r.Method,
		RequestID: r.RequestID, WidgetMethod: r.WidgetMethod, Timeout: timeout, Started: r.Received, OnLate: r.OnLate,
		NoTimeout: r.NoTimeout,
	}, func(ctx context.Context, id string, deadline time.Time) (json.RawMessage, error) {
		call := call
		call.AttemptID, call.Deadline = id, deadline
		capture := s.cfg.OnFrame != nil
		if capture {
			s.frame(call.Session, "backend", "out", protocol.AppendRequest(nil, jsonString(id), call.Method, call.Params))
		}
		res, err := exec.Execute(ctx, call)
		if capture {
			if err != nil {
				s.frame(call.Session, "backend", "in", protocol.AppendResponse(nil, jsonString(id), nil, protocol.AsError(err)))
			} else {
				s.frame(call.Session, "backend", "in", protocol.AppendResponse(nil, jsonString(id), res, nil))
			}
		}
		return res, err
	})
	if err != nil && errors.Is(err, errShuttingDown) {
		err = errShuttingDown
	}
	return res, attemptID, err
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

// onLate reports a late answer: logs, metrics, and bridge.late to the widget.
func (s *Server) onLate(l correlation.Late) {
	ev := s.log.Warn().Str("session", l.Info.Session).Str("attempt", l.Info.ID).Str("method", l.Info.Method).
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
	s.metrics.lateAnswers.WithLabelValues(l.Info.Method).Inc()
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

func (s *Server) track(c *rpcconn.Conn) {
	s.connsMu.Lock()
	s.conns[c] = struct{}{}
	s.connsMu.Unlock()
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
