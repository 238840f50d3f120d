package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"sync"

	"github.com/cifbridge/cifbridge/bridge/capture"
	"github.com/cifbridge/cifbridge/protocol"
)

// Capture (DESIGN §8): --capture-dir writes one JSONL file per session with
// every widget and backend frame. Host-peer frames are not written: every
// call a host peer answers is already in the capture as a "backend" out/in
// pair (same method, params and answer, keyed by attempt id), and a host
// frame carries no session of its own (its session is inside the params of
// requests only), so attributing host responses would need per-connection
// id bookkeeping the bridge does not expose to OnFrame.
func init() {
	var (
		dir      string
		sessions string
		maxBytes int64
	)
	servePlugins = append(servePlugins, &servePlugin{
		name: "capture",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dir, "capture-dir", "", "`directory` receiving one JSONL capture file per session (widget and backend frames; replay them with cifbridge replay); empty disables capture")
			fs.StringVar(&sessions, "capture-sessions", "", "comma-separated session id glob `patterns` to capture (e.g. 's-*,incident-*'); empty means every session")
			fs.Int64Var(&maxBytes, "capture-max-bytes", capture.DefaultMaxFileBytes, "rotate a session's capture file before it exceeds this many `bytes`; negative disables rotation")
		},
		configure: func(env *serveEnv) error {
			if dir == "" {
				if env.Set["capture-sessions"] || env.Set["capture-max-bytes"] {
					return usageError{errString("--capture-sessions and --capture-max-bytes need --capture-dir")}
				}
				return nil
			}
			cfg := capture.Config{
				Dir:          dir,
				MaxFileBytes: maxBytes,
				Version:      version,
				Logger:       env.Log,
			}
			for _, p := range strings.Split(sessions, ",") {
				if p = strings.TrimSpace(p); p != "" {
					cfg.Sessions = append(cfg.Sessions, p)
				}
			}
			c, err := capture.New(cfg)
			if err != nil {
				return usageError{err}
			}
			cp := newCapturePlugin(c, env)
			env.State["capture"] = c
			env.Config.OnFrame = chainFrame(env.Config.OnFrame, cp.frame)
			prev := env.Config.OnSessionEnd
			env.Config.OnSessionEnd = func(session string) {
				if prev != nil {
					prev(session)
				}
				cp.end(session)
			}
			return nil
		},
		stop: func(env *serveEnv) {
			if c, ok := env.State["capture"].(*capture.Capturer); ok {
				if err := c.Close(); err != nil {
					env.Log.Error().Err(err).Msg("close capture files")
				}
			}
		},
	})
}

type errString string

func (e errString) Error() string { return string(e) }

func chainFrame(prev, next func(session, peer, dir string, msg []byte)) func(session, peer, dir string, msg []byte) {
	if prev == nil {
		return next
	}
	return func(session, peer, dir string, msg []byte) {
		prev(session, peer, dir, msg)
		next(session, peer, dir, msg)
	}
}

// capturePlugin routes frames to per-session captures, opened lazily.
type capturePlugin struct {
	c   *capture.Capturer
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

func newCapturePlugin(c *capture.Capturer, env *serveEnv) *capturePlugin {
	return &capturePlugin{c: c, env: env, sessions: map[string]*captureEntry{}}
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
	_, timeout := profileTimeout(*p.env.Config)
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
