package capture

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
)

// Defaults for Config's zero values.
const (
	DefaultMaxFileBytes = 64 << 20    // big enough for hours of a busy session, small enough to open in an editor
	DefaultSyncInterval = time.Second // bounds what a power loss can take; a daemon crash loses nothing flushed
)

// Config configures a Capturer. Zero values mean the defaults.
type Config struct {
	// Dir receives the files; it is created (mode 0o750) when missing. Required.
	Dir string
	// MaxFileBytes rotates a session's file before a frame would take it past
	// this size (a part always holds at least one frame). Zero means
	// DefaultMaxFileBytes; negative disables rotation.
	MaxFileBytes int64
	// SyncInterval is how often written files are fsynced. Zero means
	// DefaultSyncInterval; negative means only on rotation and Close.
	SyncInterval time.Duration
	// Sessions are the session ids to capture, as path.Match glob patterns
	// ("s-*", "incident-[0-9]*"); empty means every session.
	Sessions []string
	// Filter, when set, must also return true for a session to be captured.
	Filter func(session string) bool
	// Version is the bridge version written in every header.
	Version string
	// Logger receives write failures (once per session). The zero value
	// discards them.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
}

// Stats are a Capturer's counters since New.
type Stats struct {
	Open    int   // sessions being captured now
	Files   int64 // files created, parts included
	Frames  int64 // frames written
	Bytes   int64 // bytes written, headers included
	Dropped int64 // frames not written: after a write error, after Close, or with a bad peer/dir
	Syncs   int64 // file fsyncs done: on the interval (only of files written since), on rotation and on close
}

// Capturer writes capture files for many sessions. Its methods are safe for
// concurrent use; a nil *Capturer captures nothing.
type Capturer struct {
	cfg Config // immutable after New
	log zerolog.Logger

	// Guarded by mu.
	mu       sync.Mutex
	sessions map[*Session]struct{}
	closed   bool

	// The sync loop's.
	stop     chan struct{}
	done     chan struct{}
	syncList []*Session

	dirDirty                             atomic.Bool // a file was created since the directory was last fsynced
	files, frames, bytes, dropped, syncs atomic.Int64

	// secrets are the daemon's own credentials, scrubbed from every frame
	// in all their encodings (SetSecrets).
	secrets atomic.Pointer[redact.Set]
}

// SetSecrets makes every frame written from now on free of these secrets
// (the bridge's tokens, the Enreach secret, the Dataverse client secret) in
// every encoding internal/redact knows, on top of Redact's rules.
func (c *Capturer) SetSecrets(s *redact.Set) { c.secrets.Store(s) }

// New validates cfg, creates cfg.Dir and starts the background fsync loop.
// Call Close when done.
func New(cfg Config) (*Capturer, error) {
	cfg.Sessions = append([]string(nil), cfg.Sessions...)
	if cfg.Dir == "" {
		return nil, errors.New("new capturer: Dir is required")
	}
	for _, p := range cfg.Sessions {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("new capturer: session pattern %q: %w", p, err)
		}
	}
	if cfg.MaxFileBytes == 0 {
		cfg.MaxFileBytes = DefaultMaxFileBytes
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("new capturer: %w", err)
	}
	c := &Capturer{
		cfg:      cfg,
		log:      cfg.Logger.With().Str("component", "capture").Logger(),
		sessions: make(map[*Session]struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if cfg.SyncInterval > 0 {
		go c.syncLoop(cfg.SyncInterval)
	} else {
		close(c.done)
	}
	return c, nil
}

// Captures reports whether session would be captured.
func (c *Capturer) Captures(session string) bool {
	if c == nil {
		return false
	}
	if c.cfg.Filter != nil && !c.cfg.Filter(session) {
		return false
	}
	if len(c.cfg.Sessions) == 0 {
		return true
	}
	for _, p := range c.cfg.Sessions {
		if ok, _ := path.Match(p, session); ok {
			return true
		}
	}
	return false
}

// Open starts capturing a session and writes its header. It returns nil
// when the session is filtered out, when the Capturer is closed, or when the
// file cannot be created (logged); all *Session methods accept nil. profile
// "" means protocol.ProfileCIF1 and timeoutMs <= 0 the profile's timeout.
func (c *Capturer) Open(session, profile string, timeoutMs int64) *Session {
	if !c.Captures(session) {
		return nil
	}
	if profile == "" {
		profile = protocol.ProfileCIF1
	}
	if timeoutMs <= 0 {
		timeoutMs = protocol.TimeoutCIF1Ms
		if profile == protocol.ProfileCIF2 {
			timeoutMs = protocol.TimeoutCIF2Ms
		}
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil
	}
	s, err := newSession(c, session, protocol.CaptureHeader{
		Format:    protocol.CaptureFormat,
		Version:   protocol.CaptureVersion,
		Bridge:    c.cfg.Version,
		Profile:   profile,
		TimeoutMs: timeoutMs,
		Started:   c.cfg.Now().UTC(),
		Session:   session,
	})
	if err != nil {
		c.log.Error().Err(err).Str("session", session).Msg("capture disabled for this session")
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = s.Close()
		return nil
	}
	c.sessions[s] = struct{}{}
	c.mu.Unlock()
	return s
}

// Stats returns the counters.
func (c *Capturer) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	open := len(c.sessions)
	c.mu.Unlock()
	return Stats{Open: open, Files: c.files.Load(), Frames: c.frames.Load(), Bytes: c.bytes.Load(), Dropped: c.dropped.Load(), Syncs: c.syncs.Load()}
}

// Close closes every open session (flush and fsync), stops the sync loop
// and fsyncs the directory. Later Opens return nil. It is idempotent.
func (c *Capturer) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	open := make([]*Session, 0, len(c.sessions))
	for s := range c.sessions {
		open = append(open, s)
	}
	c.mu.Unlock()
	if c.cfg.SyncInterval > 0 {
		close(c.stop)
	}
	<-c.done
	var errs []error
	for _, s := range open {
		errs = append(errs, s.Close())
	}
	errs = append(errs, c.syncDir())
	return errors.Join(errs...)
}

func (c *Capturer) forget(s *Session) {
	c.mu.Lock()
	delete(c.sessions, s)
	c.mu.Unlock()
}

// syncLoop is the one goroutine that fsyncs on SyncInterval.
func (c *Capturer) syncLoop(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.syncAll()
		}
	}
}

func (c *Capturer) syncAll() {
	c.mu.Lock()
	c.syncList = c.syncList[:0]
	for s := range c.sessions {
		c.syncList = append(c.syncList, s)
	}
	c.mu.Unlock()
	for _, s := range c.syncList {
		s.sync()
	}
	clear(c.syncList)
	if err := c.syncDir(); err != nil {
		c.log.Warn().Err(err).Msg("fsync capture directory")
	}
}

// fsync syncs a capture file and counts it.
func (c *Capturer) fsync(f *os.File) error {
	err := f.Sync()
	if err == nil {
		c.syncs.Add(1)
	}
	return err
}

func (c *Capturer) syncDir() error {
	if !c.dirDirty.Swap(false) {
		return nil
	}
	d, err := os.Open(c.cfg.Dir)
	if err != nil {
		return fmt.Errorf("sync capture dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync capture dir: %w", err)
	}
	return nil
}
