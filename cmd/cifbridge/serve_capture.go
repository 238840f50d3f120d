package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path"
	"strings"

	"github.com/cifbridge/cifbridge/bridge/capture"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
)

// Capture (DESIGN §8): --capture-dir writes one JSONL file per session with
// every widget, host and backend frame. Host frames are written to the
// capture of the session whose call they carry (the host hub reports them
// per call; a host's own host.hello belongs to no session and is left out).
// capturePlugin routes frames to per-session captures (capture.Router).
type capturePlugin struct {
	noSteps
	dir      string // --capture-dir
	patterns string // --capture-sessions
	maxBytes int64  // --capture-max-bytes

	c   *capture.Capturer // set by configure when --capture-dir is set
	r   *capture.Router   // routes the frames to c, per session
	env *serveEnv
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
			if _, err := path.Match(pat, ""); err != nil { // what capture.New checks them with
				return usageError{fmt.Errorf("--capture-sessions pattern %q: %w; give comma-separated globs, e.g. --capture-sessions 's-*,incident-*'", pat, err)}
			}
			cfg.Sessions = append(cfg.Sessions, pat)
		}
	}
	c, err := capture.New(cfg)
	if err != nil { // the patterns are fine: the directory is not
		return usageError{fmt.Errorf("--capture-dir %s: %w; give a directory cifbridge may create and write, e.g. --capture-dir captures", p.dir, err)}
	}
	p.c, p.env = c, env
	p.r = capture.NewRouter(c, capture.RouterConfig{Profile: p.profile, Pending: p.pending, Logger: env.Log})
	env.Config.OnFrame = chainFrame(env.Config.OnFrame, p.frame)
	prev := env.Config.OnSessionEnd
	env.Config.OnSessionEnd = func(session string) {
		if prev != nil {
			prev(session)
		}
		p.r.End(session)
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
	p.r.Close()
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
	if peer == protocol.CapturePeerHost {
		return
	}
	p.r.Frame(session, peer, dir, msg)
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

// pending returns the ids of the session's backend attempts still in
// flight or awaiting a late answer: the Router keeps an ended session's file
// open for their frames.
func (p *capturePlugin) pending(session string) []string {
	if p.env.Server == nil {
		return nil
	}
	return capture.PendingAttempts(p.env.Server.Table(), session)
}
