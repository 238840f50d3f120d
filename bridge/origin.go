package bridge

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// originAllowed mirrors coder/websocket's rule (same host as the request, or
// a path.Match pattern on the origin's host, or on scheme://host when the
// pattern has "://") so that a refusal can carry our own message.
func (s *Server) originAllowed(r *http.Request, origin string, patterns []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// hostAllowed is the DNS-rebinding guard: a browser sends the name it
// resolved in Host, so a page on rebind.evil.com that made that name point
// at 127.0.0.1 still says "Host: rebind.evil.com". Accepted: loopback names
// and addresses, the listen address (any IP address when it listens on all
// of them: an address is no name an attacker can re-point), and
// Config.AllowedHosts patterns (path.Match on the name, or on name:port).
func (s *Server) hostAllowed(hostport string) bool {
	if hostport == "" { // HTTP/1.0: no Host, so no browser
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	listen := s.listenHost()
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() || listen == "" {
			return true
		}
		if lip := net.ParseIP(listen); lip != nil && (lip.IsUnspecified() || lip.Equal(ip)) {
			return true
		}
	} else if listen != "" && host == listen {
		return true
	}
	for _, p := range s.cfg.AllowedHosts {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, host); ok {
			return true
		}
		if ok, _ := path.Match(p, strings.ToLower(hostport)); ok {
			return true
		}
	}
	return false
}

// listenHost is the host part of Config.ListenAddr, lower case ("" when
// unknown or empty, as for ":8787": every address).
func (s *Server) listenHost() string {
	h, _, err := net.SplitHostPort(s.cfg.ListenAddr)
	if err != nil {
		h = s.cfg.ListenAddr
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// checkHost wraps the whole daemon with the Host check (HTTP and WebSocket
// alike).
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			s.refusalLog("host").Str("host", truncate(r.Host, 100)).Str("remote", r.RemoteAddr).Str("path", logcap.Str(r.URL.Path)).
				Msg("refused a request for a Host this bridge does not serve (DNS-rebinding guard; one line per 10 s)")
			writeError(w, http.StatusMisdirectedRequest, protocol.Errorf(protocol.CodeUnauthorized,
				"Host %q is not served here: the bridge answers to loopback names, its listen address and --allowed-hosts; add the name there if it is yours", truncate(r.Host, 100)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// mutating reports whether an admin request may change state.
func mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// crossSiteRefusal returns why an admin request that changes state is
// refused, or "" to let it through. A browser page on another site can send
// a POST (a "simple" request needs no CORS preflight) but cannot send
// Content-Type: application/json without a preflight, which the bridge never
// answers; and it always sends Origin. So a state-changing request must come
// from the bridge's own origin or --allowed-origins, and carry JSON. A
// DELETE without a body needs no Content-Type: browsers always preflight
// DELETE. The Dataverse face's $batch carries multipart/mixed, as
// Dataverse's does: not a type a page may send without a preflight either.
func (s *Server) crossSiteRefusal(r *http.Request) (int, *protocol.Error) {
	if !mutating(r.Method) {
		return 0, nil
	}
	if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(r, o, s.cfg.AllowedOrigins) {
		return http.StatusForbidden, protocol.Errorf(protocol.CodeUnauthorized,
			"origin %q may not change this bridge: %s requests to the admin API are accepted from the bridge's own pages and --allowed-origins only", truncate(o, 100), r.Method)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.Method == http.MethodDelete && r.ContentLength == 0 {
		return 0, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == "multipart/mixed" && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, batchPathSuffix) {
		return 0, nil
	}
	if err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, protocol.Errorf(protocol.CodeInvalidRequest,
			"%s %s needs \"Content-Type: application/json\" (send {} when there is nothing to say)", r.Method, r.URL.Path)
	}
	return 0, nil
}

// batchPathSuffix ends the path of a Dataverse Web API $batch request
// (/api/data/v9.2/$batch), the one admin request whose body is
// multipart/mixed.
const batchPathSuffix = "/$batch"

// truncate cuts s to at most n bytes for logs and messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// refusalLog starts the log line of a refusal a client can repeat at will
// (a bad token, a foreign Host or Origin, a cross-site admin change, a
// connection cap): one line per reason per logSampleInterval, counting the
// refusals it left out. It returns nil, on which zerolog's methods do
// nothing, when the line is left out.
func (s *Server) refusalLog(reason string) *zerolog.Event {
	ok, n := s.refusals.Allow(reason)
	if !ok {
		return nil
	}
	return s.log.Warn().Str("refusal", reason).Int("alsoRefused", n)
}
