package bridge

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// originAllowed mirrors coder/websocket's rule (same host as the request, or
// a path.Match pattern on the origin's host, or on scheme://host when the
// pattern has "://") so that a refusal can carry our own message.
func (s *Server) originAllowed(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range s.originPatterns() {
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
