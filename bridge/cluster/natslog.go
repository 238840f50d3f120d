package cluster

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/logcap"
)

// natsLog hands an embedded nats-server's warnings and errors to the
// daemon's log: what only the NATS server notices (another node with this
// node's name, a route that cannot connect, JetStream trouble) is otherwise
// seen nowhere. Its errors are logged as warnings and its warnings as info:
// a cluster that is starting (a peer not up yet, no JetStream leader yet)
// says so in both, and that is no error of the daemon's. Each kind of line
// is logged at most once a minute with how many were held back, so a
// route retrying every second does not flood the log; notices, debug and
// trace lines stay out.
type natsLog struct {
	log     zerolog.Logger
	sampler *logcap.Sampler

	mu    sync.Mutex
	kinds map[string]bool // the sampler's keys, at most maxNATSKinds
}

// maxNATSKinds bounds the kinds of line natsLog samples apart; past it
// every new kind shares one key.
const maxNATSKinds = 256

func newNATSLog(log zerolog.Logger) *natsLog {
	return &natsLog{log: log.With().Str("component", "nats-server").Logger(), sampler: logcap.NewSampler(time.Minute),
		kinds: map[string]bool{}}
}

func (l *natsLog) Noticef(string, ...any) {}
func (l *natsLog) Debugf(string, ...any)  {}
func (l *natsLog) Tracef(string, ...any)  {}

func (l *natsLog) Warnf(format string, v ...any)  { l.emit(zerolog.InfoLevel, format, v) }
func (l *natsLog) Errorf(format string, v ...any) { l.emit(zerolog.WarnLevel, format, v) }

// Fatalf is logged as an error: nats-server's own logger would exit the
// process, which the daemon never lets a component do.
func (l *natsLog) Fatalf(format string, v ...any) { l.emit(zerolog.ErrorLevel, format, v) }

func (l *natsLog) emit(level zerolog.Level, format string, v []any) {
	ok, held := l.sampler.Allow(l.kind(format))
	if !ok {
		return
	}
	ev := l.log.WithLevel(level)
	if held > 0 {
		ev = ev.Int("alsoSince", held)
	}
	ev.Msg(logcap.Prefix(fmt.Sprintf(format, v...), 1000))
}

// kind is the sampler's key for a line: its format string without the
// connection nats-server puts in front ("127.0.0.1:53928 - rid:48 - "),
// which differs for every connection.
func (l *natsLog) kind(format string) string {
	if i := strings.LastIndex(format, " - "); i >= 0 {
		format = format[i+len(" - "):]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.kinds[format] {
		if len(l.kinds) >= maxNATSKinds {
			return "other"
		}
		l.kinds[format] = true
	}
	return format
}
