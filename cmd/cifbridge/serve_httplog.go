package main

import (
	stdlog "log"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/logcap"
)

// httpErrorLog is the http.Server's ErrorLog: what net/http reports about a
// connection (a TLS handshake a client botched, an accept that failed for
// want of file descriptors, a bad request line) goes to the daemon's log
// as JSON, scrubbed like every line, and at most once per kind per interval
// with the count held back, since a client can cause one per connection. A
// panic net/http caught is a bug of ours: always logged, at error level.
func httpErrorLog(log zerolog.Logger, interval time.Duration) *stdlog.Logger {
	return stdlog.New(&httpErrors{log: log, sampler: logcap.NewSampler(interval)}, "", 0)
}

type httpErrors struct {
	log     zerolog.Logger
	sampler *logcap.Sampler
}

func (h *httpErrors) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	kind := httpErrorKind(line)
	if kind == "panic" {
		h.log.Error().Str("kind", kind).Str("detail", line).Msg("http server: panic while serving a request: this is a bug in cifbridge, please report it")
		return len(p), nil
	}
	if ok, held := h.sampler.Allow(kind); ok {
		h.log.Warn().Str("kind", kind).Int("alsoSeen", held).Str("detail", logcap.Prefix(line, 300)).
			Msg("http server: " + kind + " (one line per kind per 10 s)")
	}
	return len(p), nil
}

// httpErrorKind names the kind of a line of net/http's ErrorLog, from a
// fixed set (the sampler's reasons).
func httpErrorKind(line string) string {
	switch {
	case strings.Contains(line, "TLS handshake error"):
		return "tls_handshake"
	case strings.Contains(line, "Accept error"):
		return "accept"
	case strings.Contains(line, "panic serving"):
		return "panic"
	default:
		return "other"
	}
}
