package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// Session is one session's capture. Its methods are safe for concurrent use
// and are no-ops on a nil *Session.
type Session struct {
	c      *Capturer
	id     string
	idJSON []byte // id as a JSON string
	stem   string // path of the first part without ".jsonl"
	header protocol.CaptureHeader

	// Guarded by mu.
	mu     sync.Mutex
	f      *os.File
	w      *bufio.Writer
	size   int64 // bytes in the current part
	frames int   // frames in the current part
	dirty  bool  // written since the last fsync
	closed bool
	failed bool // a write failed: nothing more is written
	line   []byte
}

func newSession(c *Capturer, id string, h protocol.CaptureHeader) (*Session, error) {
	idJSON, _ := json.Marshal(id)
	s := &Session{c: c, id: id, idJSON: idJSON, header: h}
	name := fileStem(id) + "-" + h.Started.Format("20060102T150405Z")
	for n := 1; ; n++ {
		stem := filepath.Join(c.cfg.Dir, name)
		if n > 1 {
			stem += "_" + strconv.Itoa(n)
		}
		f, err := os.OpenFile(stem+".jsonl", os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
		if errors.Is(err, os.ErrExist) && n < 1000 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create capture file: %w", err)
		}
		s.stem = stem
		if err := s.start(f); err != nil {
			f.Close()
			os.Remove(stem + ".jsonl")
			return nil, err
		}
		return s, nil
	}
}

// start makes f the current part and writes the header. Called with mu
// held, or before the session is shared.
func (s *Session) start(f *os.File) error {
	s.c.files.Add(1)
	s.c.dirDirty.Store(true)
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		s.w.Reset(f)
	}
	s.f = f
	h, _ := json.Marshal(s.header)
	h = append(h, '\n')
	if _, err := s.w.Write(h); err != nil {
		return fmt.Errorf("write capture header: %w", err)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write capture header: %w", err)
	}
	s.size, s.frames, s.dirty = int64(len(h)), 0, true
	s.c.bytes.Add(int64(len(h)))
	return nil
}

// Path returns the current part's file path ("" for nil).
func (s *Session) Path() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ""
	}
	return s.f.Name()
}

// Frame appends one message seen by the bridge: peer is
// protocol.CapturePeerWidget, CapturePeerHost, CapturePeerBackend or CapturePeerAgent, dir is
// protocol.CaptureDirIn (into the bridge) or CaptureDirOut. msg is redacted
// first (the Capturer's secrets, then Redact) and not retained. Frame returns once the line is handed to the OS;
// it never waits for fsync.
func (s *Session) Frame(peer, dir string, msg []byte) {
	if s == nil {
		return
	}
	if !knownPeer(peer) || (dir != protocol.CaptureDirIn && dir != protocol.CaptureDirOut) {
		s.c.dropped.Add(1)
		s.c.log.Error().Str("session", s.id).Str("peer", peer).Str("dir", dir).Msg("capture frame dropped: unknown peer or dir (a bug)")
		return
	}
	body, invalid := encodeMsg(s.c.secrets.Load().Bytes(msg))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.failed {
		s.c.dropped.Add(1)
		return
	}
	s.line = appendFrame(s.line[:0], s.c.cfg.Now(), s.idJSON, peer, dir, body, invalid)
	if limit := s.c.cfg.MaxFileBytes; limit > 0 && s.frames > 0 && s.size+int64(len(s.line)) > limit {
		if err := s.rotate(); err != nil {
			s.fail(err)
			return
		}
	}
	_, err := s.w.Write(s.line)
	if err == nil {
		err = s.w.Flush()
	}
	if err != nil {
		s.fail(fmt.Errorf("write capture frame: %w", err))
		return
	}
	s.size += int64(len(s.line))
	s.frames++
	s.dirty = true
	s.c.frames.Add(1)
	s.c.bytes.Add(int64(len(s.line)))
}

// Close flushes, fsyncs and closes the session's file. It is idempotent and
// returns only errors of closing; an earlier write failure was logged then.
func (s *Session) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	err := s.closeLocked()
	s.mu.Unlock()
	s.c.forget(s)
	return err
}

func (s *Session) closeLocked() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	err := s.w.Flush()
	if s.failed {
		err = nil
	}
	err = errors.Join(err, s.c.fsync(f), f.Close())
	if err != nil {
		return fmt.Errorf("close capture %s: %w", f.Name(), err)
	}
	return nil
}

// rotate closes the current part and starts the next one. Called with mu held.
func (s *Session) rotate() error {
	old := s.f
	err := errors.Join(s.w.Flush(), s.c.fsync(old), old.Close())
	s.f = nil
	if err != nil {
		return fmt.Errorf("rotate capture %s: %w", old.Name(), err)
	}
	s.header.Part++
	name := fmt.Sprintf("%s-%04d.jsonl", s.stem, s.header.Part)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("rotate capture: %w", err)
	}
	if err := s.start(f); err != nil {
		f.Close()
		return err
	}
	return nil
}

// fail stops the session's writing after the first error, so that a torn
// line can only be the file's last. Called with mu held.
func (s *Session) fail(err error) {
	s.failed = true
	s.c.dropped.Add(1)
	s.c.log.Error().Err(err).Str("session", s.id).Msg("capture stopped for this session")
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}

// sync fsyncs the file if it was written since the last sync. The fsync runs
// without mu so that Frame is never held up by the disk.
func (s *Session) sync() {
	s.mu.Lock()
	f, dirty := s.f, s.dirty
	s.dirty = false
	s.mu.Unlock()
	if f == nil || !dirty {
		return
	}
	if err := s.c.fsync(f); err != nil && !errors.Is(err, os.ErrClosed) {
		s.c.log.Warn().Err(err).Str("session", s.id).Msg("fsync capture")
	}
}

func knownPeer(p string) bool {
	return p == protocol.CapturePeerWidget || p == protocol.CapturePeerHost || p == protocol.CapturePeerBackend || p == protocol.CapturePeerAgent
}

// encodeMsg returns what goes after "msg": one line of JSON, redacted. It
// allocates only when something had to change.
func encodeMsg(msg []byte) (body []byte, invalid bool) {
	if !json.Valid(msg) {
		// A WebSocket text message is valid UTF-8, so the string keeps every byte.
		return quote(redactText(msg)), true
	}
	body, changed := redactJSON(bytes.TrimSpace(msg)) // readers drop surrounding whitespace anyway
	if bytes.IndexByte(body, '\n') >= 0 || bytes.IndexByte(body, '\r') >= 0 {
		if !changed {
			body = append([]byte(nil), body...)
		}
		for i, c := range body {
			if c == '\n' || c == '\r' { // only insignificant whitespace in valid JSON
				body[i] = ' '
			}
		}
	}
	return body, false
}

func appendFrame(buf []byte, t time.Time, sessionJSON []byte, peer, dir string, msg []byte, invalid bool) []byte {
	buf = append(buf, `{"t":"`...)
	buf = t.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","session":`...)
	buf = append(buf, sessionJSON...)
	buf = append(buf, `,"peer":"`...)
	buf = append(buf, peer...)
	buf = append(buf, `","dir":"`...)
	buf = append(buf, dir...)
	buf = append(buf, `","msg":`...)
	buf = append(buf, msg...)
	if invalid {
		buf = append(buf, `,"invalid":true`...)
	}
	return append(buf, "}\n"...)
}

// fileStem makes a session id safe as a file name.
func fileStem(id string) string {
	b := []byte(id)
	if len(b) > 64 {
		b = b[:64]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "session"
	}
	return string(b)
}
