package bridge

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/protocol"
)

// authorized checks the bearer token when one is configured. Browsers cannot
// set headers on a WebSocket, so "?access_token=" is accepted too.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got := r.URL.Query().Get("access_token")
	if h := r.Header.Get("Authorization"); h != "" {
		got, _ = strings.CutPrefix(h, "Bearer ")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

// originPatterns are the Origin host patterns accepted besides the request's
// own host: loopback always, plus Config.AllowedOrigins.
func (s *Server) originPatterns() []string {
	p := []string{"localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*"}
	return append(p, s.cfg.AllowedOrigins...)
}

// accept upgrades r after the token check; it writes the HTTP error itself
// and returns nil when refused.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, role string) *websocket.Conn {
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, errShuttingDown)
		return nil
	}
	if !s.authorized(r) {
		s.log.Warn().Str("role", role).Str("remote", r.RemoteAddr).Msg("refused a connection without a valid token")
		writeError(w, http.StatusUnauthorized, protocol.Errorf(protocol.CodeUnauthorized,
			"unauthorized: send the bridge token as \"Authorization: Bearer <token>\" or ?access_token=<token>"))
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(r, o) {
		s.log.Warn().Str("role", role).Str("origin", o).Msg("refused a connection from an origin that is not allowed")
		writeError(w, http.StatusForbidden, protocol.Errorf(protocol.CodeUnauthorized,
			"origin %q is not allowed: add it with --allowed-origins", o))
		return nil
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{protocol.Subprotocol},
		InsecureSkipVerify: true, // origin already checked above, with our own error message
	})
	if err != nil {
		s.log.Debug().Err(err).Str("role", role).Msg("websocket upgrade failed")
		return nil
	}
	ws.SetReadLimit(s.cfg.MaxMessageBytes)
	return ws
}
