package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/internal/httpjson"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+protocol.PathWidget, s.limitConns("widget", s.serveWidget))
	mux.HandleFunc("GET "+protocol.PathHost, s.limitConns("host", s.serveHost))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, protocol.Health{Status: "ok", Version: s.cfg.Version})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	// /metrics is the admin role's (method names and counts tell about the
	// traffic); Prometheus sends the token with authorization.credentials.
	mux.Handle("GET /metrics", s.admin(promhttp.HandlerFor(s.metrics.gatherer(s.cfg.Node), promhttp.HandlerOpts{}).ServeHTTP))
	mux.HandleFunc("GET /api/v1/sessions", s.admin(s.listSessions))
	mux.HandleFunc("GET /api/v1/sessions/{id}", s.admin(s.getSession))
	mux.HandleFunc("POST /api/v1/sessions/{id}/events", s.admin(s.postEvent))
	mux.HandleFunc("GET /api/v1/status", s.admin(s.status))
	s.workspaceRoutes(mux)
	for pattern, h := range s.cfg.Extra {
		s.mount(mux, pattern, h)
	}
	// Every other /api/ path, and a known one asked with another method,
	// answers in the API's JSON error shape (not net/http's plain text),
	// after the same token check as the rest of the API.
	mux.Handle("/api/", s.admin(func(w http.ResponseWriter, r *http.Request) { s.noAdminRoute(mux, w, r) }))
	return mux
}

// adminMethods are the methods the admin API's routes use.
var adminMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noAdminRoute answers a request under /api/ that no route serves: 405 with
// Allow and -32600 when the path is served with other methods (asked of the
// mux itself, so wildcard routes and routes mounted later count), else 404
// with -32601 (client.Admin reads both as ErrNotServed).
func (s *Server) noAdminRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range adminMethods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	path := logcap.Prefix(r.URL.Path, 200)
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, protocol.Errorf(protocol.CodeInvalidRequest, "%s does not serve %s: use %s", path, logcap.Prefix(r.Method, 20), strings.Join(allow, " or ")))
		return
	}
	writeError(w, http.StatusNotFound, protocol.Errorf(protocol.CodeMethodNotFound,
		"no admin endpoint %s %s on this bridge: the README's admin API table lists them (the emulator's /api/v1/emulator/ is served with the emulator backend, the ledger's /api/v1/ledger with the retry engine)",
		logcap.Prefix(r.Method, 20), path))
}

// Mount adds a route after New and before serving (plug-ins that need the
// Server, e.g. the ledger REST API). Patterns under /api/ require the admin
// token like the built-in ones.
func (s *Server) Mount(pattern string, h http.Handler) { s.mount(s.mux, pattern, h) }

func (s *Server) mount(mux *http.ServeMux, pattern string, h http.Handler) {
	if isAdminPattern(pattern) {
		mux.Handle(pattern, s.admin(h.ServeHTTP))
		return
	}
	mux.Handle(pattern, h)
}

// isAdminPattern tells whether a mounted pattern needs the admin token: the
// REST API and the Dataverse face do; the web UI and the JS client do not.
func isAdminPattern(p string) bool {
	for _, prefix := range []string{"/api/", "GET /api/", "POST /api/", "PUT /api/", "DELETE /api/", "PATCH /api/"} {
		if len(p) >= len(prefix) && p[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// admin wraps an admin handler with the admin token check and, for
// requests that change state, the cross-site guard (crossSiteRefusal).
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r, RoleAdmin) {
			s.unauthorized(w, r, RoleAdmin)
			return
		}
		if status, err := s.crossSiteRefusal(r); err != nil {
			s.refusalLog("cross_site").Str("method", logcap.Str(r.Method)).Str("path", logcap.Str(r.URL.Path)).
				Str("origin", truncate(r.Header.Get("Origin"), 100)).Str("remote", r.RemoteAddr).
				Msg("refused an admin request that could come from another site (one line per 10 s)")
			writeError(w, status, err)
			return
		}
		h(w, r)
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, protocol.Health{Status: "draining"})
		return
	}
	if s.cfg.HostBackend {
		n := s.hosts.count()
		writeJSON(w, http.StatusOK, protocol.Health{Status: "ok", Backend: "host", Hosts: &n})
		return
	}
	if c, ok := s.backend.(backend.Checker); ok {
		ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
		defer cancel()
		if err := c.Check(ctx); err != nil {
			s.log.Warn().Err(err).Str("backend", s.backend.Name()).Msg("readiness check failed")
			writeJSON(w, http.StatusServiceUnavailable, protocol.Health{Status: "backend unavailable",
				Backend: s.backend.Name(), Error: readyReason(err)})
			return
		}
	}
	writeJSON(w, http.StatusOK, protocol.Health{Status: "ok", Backend: s.backend.Name()})
}

// readyReason says why a readiness check failed in terms that carry nothing
// the upstream sent (no message, no body: /readyz is open to anyone who can
// reach the daemon): the error code, and the HTTP status and Dataverse code
// of a backend error. The daemon's log has the whole error.
func readyReason(err error) string {
	var ce *backend.CheckError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	pe := protocol.AsError(err)
	switch pe.Code {
	case protocol.CodeBackend:
		if d, ok := protocol.BackendData(err); ok {
			r := fmt.Sprintf("the backend answered HTTP %d", d.HTTPStatus)
			if d.DataverseCode != "" {
				r += " (" + d.DataverseCode + ")"
			}
			return r + ": see the daemon's log"
		}
	case protocol.CodeNoBackend:
		return "the backend is unreachable: see the daemon's log"
	case protocol.CodeTimeout:
		return "the backend did not answer in time: see the daemon's log"
	}
	return fmt.Sprintf("the check failed with %d: see the daemon's log", pe.Code)
}

// readyCheckTimeout bounds a backend's readiness check: an orchestrator
// probing /readyz must get an answer well within its own probe timeout.
const readyCheckTimeout = 3 * time.Second

func (s *Server) sessionInfo(x *Session) protocol.SessionInfo {
	return protocol.SessionInfo{Node: s.cfg.Node, SessionSummary: x.Summary(), InFlight: attemptInfos(s.table.InFlight(x.ID)),
		Late: attemptInfos(s.table.Late(x.ID)), LateCounts: s.table.SessionLate(x.ID)}
}

// attemptInfos returns the wire shape of attempts, oldest first, never nil.
func attemptInfos(l []correlation.Info) []protocol.AttemptInfo {
	sort.Slice(l, func(i, j int) bool { return l[i].Started.Before(l[j].Started) })
	out := make([]protocol.AttemptInfo, len(l))
	for i := range l {
		out[i] = l[i].Wire()
	}
	return out
}

// listSessions serves GET /api/v1/sessions[?scope=local|cluster]: in a
// cluster every node's sessions (ClusterSessions) unless scope is local;
// on a single node both scopes are its own sessions.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	switch scope := r.URL.Query().Get("scope"); scope {
	case "", "cluster":
		if s.cfg.ClusterSessions != nil {
			s.cfg.ClusterSessions.ServeHTTP(w, r)
			return
		}
	case "local":
	default:
		writeError(w, http.StatusBadRequest, protocol.InvalidParams("scope %q: use scope=local (this node's sessions) or scope=cluster (every node's, the default)", logcap.Str(scope)))
		return
	}
	writeJSON(w, http.StatusOK, s.SessionList())
}

// SessionList is what GET /api/v1/sessions shows: every live session,
// oldest first (a cluster gathers it from every node).
func (s *Server) SessionList() protocol.SessionList {
	all := s.sessions.all()
	sort.Slice(all, func(i, j int) bool { return all[i].Created.Before(all[j].Created) })
	out := protocol.SessionList{Sessions: make([]protocol.SessionInfo, 0, len(all))}
	for _, x := range all {
		out.Sessions = append(out.Sessions, s.sessionInfo(x))
	}
	return out
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	x := s.sessions.get(r.PathValue("id"))
	if x == nil {
		writeError(w, http.StatusNotFound, protocol.Errorf(protocol.CodeNoBackend, "no live session %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.sessionInfo(x))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := protocol.Status{
		Version: s.cfg.Version, Backend: s.backend.Name(), Profile: s.cfg.Profile, Node: s.cfg.Node,
		Sessions: s.sessions.count(), Hosts: s.hosts.count(), Correlation: s.table.Stats(), Draining: s.draining.Load(),
		Security: s.Security(),
	}
	if s.cfg.ClusterStatus != nil {
		st.Cluster = s.cfg.ClusterStatus(r.Context())
	}
	writeJSON(w, http.StatusOK, st)
}

// postEvent raises an event to a session and answers with the widget's
// answer (200 {"result":…}) or the error (504 on the CIF timeout).
func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	var p protocol.RaiseEventParams
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxMessageBytes))
	if err == nil {
		err = protocol.DecodeParams(body, &p)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	res, err := s.RaiseEvent(r.Context(), r.PathValue("id"), p.EventType, p.EventData)
	if err != nil {
		status := http.StatusBadGateway
		switch {
		case errors.Is(err, protocol.ErrTimeout):
			status = http.StatusGatewayTimeout
		case errors.Is(err, protocol.ErrInvalidParams):
			status = http.StatusBadRequest
		case errors.Is(err, protocol.ErrNoBackend):
			status = http.StatusNotFound
		}
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, protocol.RaiseEventResult{Result: res})
}

// writeError answers with {"error": <JSON-RPC error object>}.
func writeError(w http.ResponseWriter, status int, err error) { httpjson.Error(w, status, err) }

func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }
