package bridge

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// Role is who a request speaks for; each role has its own bearer token.
type Role string

// Roles. A widget token opens /v1/widget only; a host token /v1/host only;
// the admin token opens /api/, /metrics and, being the operator's, every
// other role too. /livez and /readyz are open to all: they carry no data.
const (
	RoleWidget Role = "widget"
	RoleHost   Role = "host"
	RoleAdmin  Role = "admin"
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleWidget, RoleHost, RoleAdmin}

// Tokens are the per-role bearer tokens. An empty token leaves its role open
// only when the admin token is empty too; otherwise only the admin token
// opens that role.
type Tokens struct {
	Widget string // browsers hold it: it must never open more than /v1/widget
	Host   string // host peers (a trusted server process)
	Admin  string // the operator: the REST API, metrics, and every role
}

// accepted returns the tokens that open role; none means the role is open.
func (t Tokens) accepted(role Role) []string {
	var own string
	switch role {
	case RoleWidget:
		own = t.Widget
	case RoleHost:
		own = t.Host
	}
	var out []string
	for _, tok := range []string{own, t.Admin} {
		if tok != "" {
			out = append(out, tok)
		}
	}
	return out
}

// OpenRoles lists the roles that need no token.
func (t Tokens) OpenRoles() []Role {
	out := []Role{}
	for _, r := range Roles {
		if len(t.accepted(r)) == 0 {
			out = append(out, r)
		}
	}
	return out
}

// authorized checks the bearer token of role when one is configured.
// Browsers cannot set headers on a WebSocket or an EventSource, so
// "?access_token=" is accepted too.
func (s *Server) authorized(r *http.Request, role Role) bool {
	want := s.cfg.Tokens.accepted(role)
	if len(want) == 0 {
		return true
	}
	got := r.URL.Query().Get("access_token")
	if h := r.Header.Get("Authorization"); h != "" {
		got, _ = strings.CutPrefix(h, "Bearer ")
	}
	ok := 0
	for _, w := range want {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(w))
	}
	return ok == 1
}

// unauthorized answers 401 saying which token role needs.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, role Role) {
	s.refusalLog("token_"+string(role)).Str("remote", r.RemoteAddr).Str("path", logcap.Str(r.URL.Path)).
		Msg("refused a request without a valid token for its role (one line per 10 s)")
	which := "the " + string(role) + " token or the admin token"
	if role == RoleAdmin {
		which = "the admin token"
	}
	writeError(w, http.StatusUnauthorized, protocol.Errorf(protocol.CodeUnauthorized,
		"unauthorized: %s needs %s, sent as \"Authorization: Bearer <token>\" or ?access_token=<token>", r.URL.Path, which))
}

// originPatterns are the Origin host patterns accepted on the WebSockets
// besides the request's own host: loopback always, plus
// Config.AllowedOrigins.
func (s *Server) originPatterns() []string {
	p := []string{"localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*"}
	return append(p, s.cfg.AllowedOrigins...)
}

// accept upgrades r after the token and origin checks; it writes the HTTP
// error itself and returns nil when refused.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, role Role) *websocket.Conn {
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, errShuttingDown)
		return nil
	}
	if !s.authorized(r, role) {
		s.unauthorized(w, r, role)
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(r, o, s.originPatterns()) {
		s.refusalLog("origin_"+string(role)).Str("origin", logcap.Str(o)).
			Msg("refused a connection from an origin that is not allowed (one line per 10 s)")
		writeError(w, http.StatusForbidden, protocol.Errorf(protocol.CodeUnauthorized,
			"origin %q is not allowed: add it with --allowed-origins", o))
		return nil
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{protocol.Subprotocol},
		InsecureSkipVerify: true, // origin already checked above, with our own error message
	})
	if err != nil {
		s.log.Debug().Err(err).Str("role", string(role)).Msg("websocket upgrade failed")
		return nil
	}
	ws.SetReadLimit(s.cfg.MaxMessageBytes)
	return ws
}

// SecurityStatus is what /api/v1/status says of access control.
type SecurityStatus = protocol.SecurityStatus

// Security reports the access-control settings in force.
func (s *Server) Security() SecurityStatus {
	return SecurityStatus{OpenRoles: roleNames(s.cfg.Tokens.OpenRoles()), AllowUnauthenticated: s.cfg.AllowUnauthenticated,
		Listen: s.cfg.ListenAddr, AllowedHosts: nonNil(s.cfg.AllowedHosts), AllowedOrigins: nonNil(s.cfg.AllowedOrigins)}
}

func roleNames(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// nonNil makes an absent list encode as [] rather than null.
func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}
