package bridge

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// logSampleInterval is how often a connection may log a line of each
// reason a client can trigger at will (refusals, unmatched answers).
const logSampleInterval = 10 * time.Second

// connCaps counts open WebSockets, globally and per client IP, so that
// the caps are checked before the upgrade.
type connCaps struct {
	mu    sync.Mutex
	total int
	perIP map[string]int
}

// wsEndpoint upgrades a request and returns what serves the connection for
// its lifetime, or nil when there is no connection (the refusal is written).
type wsEndpoint func(w http.ResponseWriter, r *http.Request) (serve func())

// limitConns wraps a WebSocket endpoint: past a connection cap it answers
// HTTP 503 before the upgrade; otherwise it holds a slot for the
// connection's lifetime and hands h a ResponseWriter whose hijacked
// connection refuses oversized frame headers at once. The connection is
// served on a goroutine of its own and the HTTP handler returns, so that
// net/http lets go of the request, its buffers and the handler's stack:
// an idle connection is one goroutine and what the connection itself holds.
func (s *Server) limitConns(role string, h wsEndpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		if which := s.caps.acquire(ip, s.cfg.MaxConns, s.cfg.MaxConnsPerIP); which != "" {
			s.metrics.connRefused.WithLabelValues(which).Inc()
			s.refusalLog("cap_"+which).Str("role", role).Str("ip", ip).
				Msg("refused a WebSocket: connection cap reached (one line per 10 s)")
			msg := "too many connections to the bridge (" + strconv.Itoa(s.cfg.MaxConns) + ", --max-conns); retry later"
			if which == "per_ip" {
				msg = "too many connections from " + ip + " (" + strconv.Itoa(s.cfg.MaxConnsPerIP) + ", --max-conns-per-ip); close some or retry later"
			}
			w.Header().Set("Retry-After", "5")
			// Close the refused connection: kept alive it would hold a file
			// descriptor for the idle timeout, and a client retrying its
			// upgrades would eat the headroom the cap leaves below the
			// open-file limit (accept failing with EMFILE: new clients hang
			// instead of getting this 503).
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusServiceUnavailable, protocol.Errorf(protocol.CodeOverloaded, "%s", msg))
			return
		}
		serve := h(rpcconn.GuardFrames(w, s.cfg.MaxMessageBytes), r)
		if serve == nil {
			s.caps.release(ip)
			return
		}
		go func() {
			defer s.caps.release(ip)
			serve()
		}()
	}
}

// acquire takes a slot for ip, or names the cap that refuses it.
func (c *connCaps) acquire(ip string, total, perIP int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if total > 0 && c.total >= total {
		return "global"
	}
	if perIP > 0 && c.perIP[ip] >= perIP {
		return "per_ip"
	}
	c.total++
	if c.perIP == nil {
		c.perIP = map[string]int{}
	}
	c.perIP[ip]++
	return ""
}

func (c *connCaps) release(ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.perIP[ip]--; c.perIP[ip] <= 0 {
		delete(c.perIP, ip)
	}
}

// clientIP is the peer's address without its port (no proxy headers are
// trusted: a client could set them).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// connOptions fills the transport options every WebSocket shares.
func (s *Server) connOptions(log zerolog.Logger, o rpcconn.Options) rpcconn.Options {
	o.Logger = log
	o.MaxSendBytes = s.cfg.MaxSendBytes
	o.PingInterval = s.cfg.PingInterval
	o.IdleTimeout = s.cfg.IdleTimeout
	o.ReadTimeout = s.cfg.ReadTimeout
	return o
}
