package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"sync"

	"github.com/cifbridge/cifbridge/bridge/capture"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
)

// Capture (DESIGN §8): --capture-dir writes one JSONL file per session with
// every widget, host and backend frame. Host frames are written to the
// capture of the session whose call they carry (the host hub reports them
// per call; a host's own host.hello belongs to no session and is left out).
// capturePlugin routes frames to per-session captures, opened lazily.
type capturePlugin struct {
	noSteps
	dir      string // --capture-dir
	patterns string // --capture-sessions
	maxBytes int64  // --capture-max-bytes

	c   *capture.Capturer // set by configure when --capture-dir is set
	env *serveEnv

	mu       sync.Mutex
	sessions map[string]*captureEntry
}

// captureEntry is one session's capture. A widget's leading bridge.hello
// request is held back until the next frame, because hello may change the
// session's profile and timeout, which go into the header.
type captureEntry struct {
	mu      sync.Mutex
	s       *capture.Session
	opened  bool
	pending [][3]string // peer, dir, msg held before the header is written
}

func (p *capturePlugin) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.dir, "capture-dir", "", "`directory` receiving one JSONL capture file per session (widget, host and backend frames; replay them with cifbridge replay); empty disables capture")
	fs.StringVar(&p.patterns, "capture-sessions", "", "comma-separated session id glob `patterns` to capture (e.g. 's-*,incident-*'); empty means every session")
	fs.Int64Var(&p.maxBytes, "capture-max-bytes", capture.DefaultMaxFileBytes, "rotate a session's capture file before it exceeds this many `bytes`; negative disables rotation")
}

func (p *capturePlugin) configure(env *serveEnv) error {
	if p.dir == "" {
		if len(env.given("capture-sessions", "capture-max-bytes")) > 0 {
			return usageError{errors.New("--capture-sessions and --capture-max-bytes need --capture-dir")}
		}
		return nil
	}
	cfg := capture.Config{
		Dir:          p.dir,
		MaxFileBytes: p.maxBytes,
		Version:      version,
		Logger:       env.Log,
	}
	for _, pat := range strings.Split(p.patterns, ",") {
		if pat = strings.TrimSpace(pat); pat != "" {
			cfg.Sessions = append(cfg.Sessions, pat)
		}
	}
	c, err := capture.New(cfg)
	if err != nil {
		return usageError{err}
	}
	p.c, p.env, p.sessions = c, env, map[string]*captureEntry{}
	env.Config.OnFrame = chainFrame(env.Config.OnFrame, p.frame)
	prev := env.Config.OnSessionEnd
	env.Config.OnSessionEnd = func(session string) {
		if prev != nil {
			prev(session)
		}
		p.end(session)
	}
	return nil
}

// start hands the capturer every secret the plug-ins were configured with
// (they are all known once every configure step ran).
func (p *capturePlugin) start(_ context.Context, env *serveEnv) error {
	if p.c != nil {
		p.c.SetSecrets(redact.NewSet(env.Secrets...))
	}
	return nil
}

func (p *capturePlugin) stop(env *serveEnv) {
	if p.c == nil {
		return
	}
	if err := p.c.Close(); err != nil {
		env.Log.Error().Err(err).Msg("close capture files")
	}
}

func chainFrame(prev, next func(session, peer, dir string, msg []byte)) func(session, peer, dir string, msg []byte) {
	if prev == nil {
		return next
	}
	return func(session, peer, dir string, msg []byte) {
		prev(session, peer, dir, msg)
		next(session, peer, dir, msg)
	}
}

func (p *capturePlugin) frame(session, peer, dir string, msg []byte) {
	if session == "" || peer == protocol.CapturePeerHost || !p.c.Captures(session) {
		return
	}
	p.mu.Lock()
	e := p.sessions[session]
	if e == nil {
		e = &captureEntry{}
		p.sessions[session] = e
	}
	p.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.opened {
		if peer == protocol.CapturePeerWidget && dir == protocol.CaptureDirIn && isHello(msg) && len(e.pending) < 4 {
			e.pending = append(e.pending, [3]string{peer, dir, string(msg)})
			return
		}
		prof, timeoutMs := p.profile(session)
		e.s = p.c.Open(session, prof, timeoutMs)
		e.opened = true
		for _, f := range e.pending {
			e.s.Frame(f[0], f[1], []byte(f[2]))
		}
		e.pending = nil
	}
	e.s.Frame(peer, dir, msg)
}

// profile returns the session's profile and timeout in ms (zero values mean
// the capturer's defaults).
func (p *capturePlugin) profile(session string) (string, int64) {
	if p.env.Server != nil {
		if s := p.env.Server.Session(session); s != nil {
			prof, timeout := s.Profile()
			return prof, timeout.Milliseconds()
		}
	}
	timeout := p.env.Config.CIFTimeout()
	return p.env.Config.Profile, timeout.Milliseconds()
}

func (p *capturePlugin) end(session string) {
	p.mu.Lock()
	e := p.sessions[session]
	delete(p.sessions, session)
	p.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.opened && len(e.pending) > 0 {
		prof, timeoutMs := p.profile(session)
		e.s = p.c.Open(session, prof, timeoutMs)
		for _, f := range e.pending {
			e.s.Frame(f[0], f[1], []byte(f[2]))
		}
	}
	e.opened, e.pending = true, nil
	if err := e.s.Close(); err != nil {
		p.env.Log.Warn().Err(err).Str("session", session).Msg("close capture")
	}
}

// isHello reports whether msg is a bridge.hello request.
func isHello(msg []byte) bool {
	if !bytes.Contains(msg, []byte(protocol.MethodHello)) {
		return false
	}
	var m struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(msg, &m) == nil && m.Method == protocol.MethodHello
}
