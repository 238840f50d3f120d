package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Capture file format (JSONL, one JSON object per line, "\n"-terminated).
//
// Line 1 is a CaptureHeader:
//
//	{"format":"cifbridge-capture","version":1,"bridge":"v0.3.0","profile":"cif1","timeoutMs":10000,"started":"2025-05-01T12:00:00.123456789Z","session":"s-1"}
//
// Every further line is a CaptureFrame:
//
//	{"t":"2025-05-01T12:00:00.2Z","session":"s-1","peer":"widget","dir":"in","msg":{"jsonrpc":"2.0","id":2,"method":"cif.createrecord","params":{…}}}
//
// peer is who is on the other end (widget, host or backend); dir is seen
// from the bridge: "in" came into the bridge from that peer, "out" went from
// the bridge to that peer. For peer "backend", an "out" msg is a JSON-RPC
// request describing one attempt (id = attempt id, method e.g.
// "cif.createrecord", params) and an "in" msg is the backend's JSON-RPC
// response to it, which may come after the CIF timeout.
//
// msg is the message exactly as it went over the wire, except that the
// daemon redacts credentials before writing and that a message which was not
// valid JSON is stored as a JSON string with "invalid":true.
//
// A file whose header has "source":"postmessage" was written by the browser
// recorder: its msgs are raw CIF postMessage envelopes (see envelope.go) and
// CaptureReader.Normalize turns them into JSON-RPC.
//
// The daemon rotates big captures; every part repeats the header with
// "part": 1, 2, … (the first part has none).
const (
	CaptureFormat  = "cifbridge-capture"
	CaptureVersion = 1
)

// AgentAction is one thing the agent did on the CIF 2.0 workspace, as the
// admin API took it: the params of a CapturePeerAgent frame, which a replay
// does again at its captured time.
type AgentAction struct {
	Kind   string `json:"kind"`             // "notification", "focus", "close", "presence", "panel"
	Target string `json:"target,omitempty"` // notification id, workspace session id or presence id
	Action string `json:"action,omitempty"` // "accept"/"reject" for a notification
	Mode   *int   `json:"mode,omitempty"`   // panel
	Width  *int   `json:"width,omitempty"`  // panel
}

// Capture peers, directions and sources.
const (
	CapturePeerWidget  = "widget"
	CapturePeerHost    = "host"
	CapturePeerBackend = "backend"
	// CapturePeerAgent frames are the agent's actions on the workspace
	// (admin API), dir "in": msg is a JSON-RPC notification
	// {"method":"agent.<kind>","params":<AgentAction>}. A replay does
	// them again at their captured times.
	CapturePeerAgent = "agent"

	CaptureDirIn  = "in"  // into the bridge from the peer
	CaptureDirOut = "out" // from the bridge to the peer

	CaptureSourceBridge      = "bridge"      // written by the daemon ("" means the same)
	CaptureSourcePostMessage = "postmessage" // written by web/recorder.js: msgs are CIF envelopes
)

// CaptureHeader is the first line of a capture file.
type CaptureHeader struct {
	Format    string    `json:"format"`           // always CaptureFormat
	Version   int       `json:"version"`          // CaptureVersion when written by this build
	Bridge    string    `json:"bridge,omitempty"` // version of the writer
	Source    string    `json:"source,omitempty"` // "" or CaptureSourceBridge, or CaptureSourcePostMessage
	Profile   string    `json:"profile"`          // ProfileCIF1 or ProfileCIF2
	TimeoutMs int64     `json:"timeoutMs"`        // the session's CIF timeout
	Started   time.Time `json:"started"`          // RFC 3339 with nanoseconds
	Session   string    `json:"session"`
	Part      int       `json:"part,omitempty"` // 0 for the first file of a session, then 1, 2, …
}

// CaptureFrame is one message seen by the bridge.
type CaptureFrame struct {
	T       time.Time       `json:"t"`
	Session string          `json:"session"`
	Peer    string          `json:"peer"` // CapturePeer*
	Dir     string          `json:"dir"`  // CaptureDirIn or CaptureDirOut
	Msg     json.RawMessage `json:"msg"`  // byte-exact as stored
	Invalid bool            `json:"invalid,omitempty"`

	// Line is the frame's line number in its file (not serialised).
	Line int `json:"-"`
}

// Capture errors, matched with errors.Is; the error text names the file and
// line ("capture.jsonl:17: …") through *CaptureError.
var (
	ErrNotCapture    = errors.New("not a cifbridge capture")
	ErrCaptureNewer  = errors.New("capture was written by a newer cifbridge")
	ErrCaptureSyntax = errors.New("bad capture line")
)

// CaptureError locates a problem in a capture file.
type CaptureError struct {
	File string
	Line int
	Err  error
}

func (e *CaptureError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *CaptureError) Unwrap() error { return e.Err }

// MaxCaptureLine bounds one line of a capture; a longer line is an error.
const MaxCaptureLine = 64 << 20

// CaptureReader reads a capture file frame by frame. Entry points:
// NewCaptureReader, Header, Next, Torn; ReadCaptureFile for a whole file.
type CaptureReader struct {
	// Normalize, when true and the file comes from the browser recorder
	// (Header().Source == CaptureSourcePostMessage), converts every frame's
	// msg from a CIF postMessage envelope to JSON-RPC with EnvelopeToJSONRPC.
	// Frames stored with "invalid":true are passed through unchanged.
	Normalize bool

	name   string
	br     *bufio.Reader
	line   int
	header CaptureHeader
	torn   bool
	err    error // sticky: io.EOF or a *CaptureError
	buf    []byte
	file   *os.File // what OpenCaptureFile opened, for Close
}

// NewCaptureReader reads the header line from r and returns a reader for
// the frames. name is used in error messages (usually the file's path). The
// error is a *CaptureError wrapping ErrNotCapture, ErrCaptureNewer or
// ErrCaptureSyntax, or the read error.
func NewCaptureReader(r io.Reader, name string) (*CaptureReader, error) {
	cr := &CaptureReader{name: name, br: bufio.NewReaderSize(r, 64<<10)}
	line, complete, err := cr.readLine()
	if err == io.EOF {
		return nil, cr.errorf(ErrNotCapture, "empty file: no header line")
	}
	if err != nil {
		return nil, err
	}
	if !complete && !json.Valid(line) {
		return nil, cr.errorf(ErrNotCapture, "the header line is torn (the writer stopped while writing it)")
	}
	h, err := parseHeader(line)
	if err != nil {
		return nil, &CaptureError{File: name, Line: cr.line, Err: err}
	}
	cr.header = h
	return cr, nil
}

// Header returns the capture's header.
func (r *CaptureReader) Header() CaptureHeader { return r.header }

// Torn reports whether the last line was torn (no trailing newline and not
// valid JSON: the writer died mid-line) and therefore skipped. It is only
// meaningful once Next has returned io.EOF.
func (r *CaptureReader) Torn() bool { return r.torn }

// Next returns the next frame, or io.EOF after the last one. Any other error
// is a *CaptureError naming the file and line (or a read error) and is
// returned again by later calls.
func (r *CaptureReader) Next() (CaptureFrame, error) {
	for r.err == nil {
		line, complete, err := r.readLine()
		if err != nil {
			r.err = err
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // tolerate blank lines (hand-edited files)
		}
		if !complete && !json.Valid(line) {
			r.torn = true
			r.err = io.EOF
			break
		}
		f, err := parseFrame(line, r.header.Session)
		if err == nil && r.Normalize && !f.Invalid && r.header.Source == CaptureSourcePostMessage {
			f.Msg, err = EnvelopeToJSONRPC(f.Msg)
		}
		if err != nil {
			r.err = &CaptureError{File: r.name, Line: r.line, Err: err}
			break
		}
		f.Line = r.line
		return f, nil
	}
	return CaptureFrame{}, r.err
}

// OpenCaptureFile opens the capture file (one part) at path and reads its
// header, as NewCaptureReader does; Close closes the file.
func OpenCaptureFile(path string) (*CaptureReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	r, err := NewCaptureReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// Close closes the file OpenCaptureFile opened; for a reader made by
// NewCaptureReader it does nothing (the caller owns that io.Reader).
func (r *CaptureReader) Close() error {
	if r.file == nil {
		return nil
	}
	return r.file.Close()
}

// Rest reads the frames left up to the end: all of them and nil, or those
// before the first error (Next's) and that error.
func (r *CaptureReader) Rest() ([]CaptureFrame, error) {
	var frames []CaptureFrame
	for {
		fr, err := r.Next()
		if err == io.EOF {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, fr)
	}
}

// ReadCaptureFile reads a whole capture file (one part). A torn last line is
// skipped silently; use CaptureReader to learn about it.
func ReadCaptureFile(path string) (CaptureHeader, []CaptureFrame, error) {
	r, err := OpenCaptureFile(path)
	if err != nil {
		return CaptureHeader{}, nil, err
	}
	defer r.Close()
	frames, err := r.Rest()
	return r.Header(), frames, err
}

// readLine returns the next line without its newline; complete is false for
// a last line that has no newline. The returned slice is valid until the
// next call.
func (r *CaptureReader) readLine() (line []byte, complete bool, err error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > MaxCaptureLine {
			r.line++
			return nil, false, r.errorf(ErrCaptureSyntax, "line longer than %d bytes", MaxCaptureLine)
		}
		r.buf = append(r.buf, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(r.buf) == 0 {
				return nil, false, io.EOF
			}
			r.line++
			return r.buf, false, nil
		case err != nil:
			if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
				return nil, false, fmt.Errorf("read capture: %w", err) // it names the file
			}
			return nil, false, fmt.Errorf("read capture %s: %w", r.name, err)
		}
		r.line++
		return r.buf[:len(r.buf)-1], true, nil
	}
}

func (r *CaptureReader) errorf(sentinel error, format string, args ...any) error {
	line := max(r.line, 1)
	return &CaptureError{File: r.name, Line: line, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// wireHeader and wireFrame see which members are present.
type wireHeader struct {
	Format    *string          `json:"format"`
	Version   *int             `json:"version"`
	Bridge    string           `json:"bridge"`
	Source    string           `json:"source"`
	Profile   string           `json:"profile"`
	TimeoutMs *int64           `json:"timeoutMs"`
	Started   *json.RawMessage `json:"started"`
	Session   string           `json:"session"`
	Part      int              `json:"part"`
}

func parseHeader(line []byte) (CaptureHeader, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || !json.Valid(line) {
		return CaptureHeader{}, fmt.Errorf("%w: the first line is not a JSON header object", ErrNotCapture)
	}
	var w wireHeader
	if err := json.Unmarshal(line, &w); err != nil {
		return CaptureHeader{}, fmt.Errorf("%w: header: %v", ErrNotCapture, jsonText(err))
	}
	if w.Format == nil || *w.Format != CaptureFormat {
		got := "missing"
		if w.Format != nil {
			got = fmt.Sprintf("%q", *w.Format)
		}
		return CaptureHeader{}, fmt.Errorf("%w: header \"format\" is %s, want %q", ErrNotCapture, got, CaptureFormat)
	}
	switch {
	case w.Version == nil:
		return CaptureHeader{}, fmt.Errorf("%w: header has no \"version\"", ErrCaptureSyntax)
	case *w.Version > CaptureVersion:
		return CaptureHeader{}, fmt.Errorf("%w (format version %d); this build reads version %d", ErrCaptureNewer, *w.Version, CaptureVersion)
	case *w.Version < 1:
		return CaptureHeader{}, fmt.Errorf("%w: unknown format version %d; this build reads version %d", ErrCaptureSyntax, *w.Version, CaptureVersion)
	}
	h := CaptureHeader{Format: *w.Format, Version: *w.Version, Bridge: w.Bridge, Source: w.Source,
		Profile: w.Profile, Session: w.Session, Part: w.Part}
	switch w.Source {
	case "", CaptureSourceBridge, CaptureSourcePostMessage:
	default:
		return CaptureHeader{}, fmt.Errorf("%w: unknown header \"source\" %q (want %q or %q)", ErrCaptureSyntax, w.Source, CaptureSourceBridge, CaptureSourcePostMessage)
	}
	switch w.Profile {
	case ProfileCIF1, ProfileCIF2:
	case "":
		return CaptureHeader{}, fmt.Errorf("%w: header has no \"profile\"", ErrCaptureSyntax)
	default:
		return CaptureHeader{}, fmt.Errorf("%w: unknown header \"profile\" %q (want %q or %q)", ErrCaptureSyntax, w.Profile, ProfileCIF1, ProfileCIF2)
	}
	if w.TimeoutMs == nil || *w.TimeoutMs <= 0 {
		return CaptureHeader{}, fmt.Errorf("%w: header \"timeoutMs\" is missing or not positive", ErrCaptureSyntax)
	}
	h.TimeoutMs = *w.TimeoutMs
	t, err := parseTime("started", w.Started)
	if err != nil {
		return CaptureHeader{}, err
	}
	h.Started = t
	if w.Part < 0 {
		return CaptureHeader{}, fmt.Errorf("%w: header \"part\" is negative", ErrCaptureSyntax)
	}
	return h, nil
}

type wireFrame struct {
	T       *json.RawMessage `json:"t"`
	Session *string          `json:"session"`
	Peer    string           `json:"peer"`
	Dir     string           `json:"dir"`
	Msg     json.RawMessage  `json:"msg"`
	Invalid bool             `json:"invalid"`
	Format  *string          `json:"format"`
}

func parseFrame(line []byte, session string) (CaptureFrame, error) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return CaptureFrame{}, fmt.Errorf("%w: not a JSON object", ErrCaptureSyntax)
	}
	var w wireFrame
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return CaptureFrame{}, fmt.Errorf("%w: %v", ErrCaptureSyntax, jsonText(err))
	}
	if w.Format != nil {
		return CaptureFrame{}, fmt.Errorf("%w: a header line in the middle of the file (concatenated captures? pass each file separately)", ErrCaptureSyntax)
	}
	t, err := parseTime("t", w.T)
	if err != nil {
		return CaptureFrame{}, err
	}
	f := CaptureFrame{T: t, Session: session, Peer: w.Peer, Dir: w.Dir, Invalid: w.Invalid}
	if w.Session != nil {
		f.Session = *w.Session
	}
	if f.Session == "" {
		return CaptureFrame{}, fmt.Errorf("%w: frame has no \"session\" (and the header names none)", ErrCaptureSyntax)
	}
	switch w.Peer {
	case CapturePeerWidget, CapturePeerHost, CapturePeerBackend, CapturePeerAgent:
	case "":
		return CaptureFrame{}, fmt.Errorf("%w: frame has no \"peer\"", ErrCaptureSyntax)
	default:
		return CaptureFrame{}, fmt.Errorf("%w: unknown \"peer\" %q (want widget, host, backend or agent)", ErrCaptureSyntax, w.Peer)
	}
	switch w.Dir {
	case CaptureDirIn, CaptureDirOut:
	case "":
		return CaptureFrame{}, fmt.Errorf("%w: frame has no \"dir\"", ErrCaptureSyntax)
	default:
		return CaptureFrame{}, fmt.Errorf("%w: unknown \"dir\" %q (want in or out)", ErrCaptureSyntax, w.Dir)
	}
	if len(w.Msg) == 0 || string(w.Msg) == "null" {
		return CaptureFrame{}, fmt.Errorf("%w: frame has no \"msg\"", ErrCaptureSyntax)
	}
	if w.Invalid && w.Msg[0] != '"' {
		return CaptureFrame{}, fmt.Errorf("%w: an \"invalid\" frame must hold its bytes as a JSON string", ErrCaptureSyntax)
	}
	// Copy: the reader's line buffer is reused.
	f.Msg = append(json.RawMessage(nil), w.Msg...)
	return f, nil
}

func parseTime(field string, raw *json.RawMessage) (time.Time, error) {
	if raw == nil {
		return time.Time{}, fmt.Errorf("%w: %q is missing", ErrCaptureSyntax, field)
	}
	var s string
	if err := json.Unmarshal(*raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("%w: %q must be an RFC 3339 time string", ErrCaptureSyntax, field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q is not an RFC 3339 time: %q", ErrCaptureSyntax, field, s)
	}
	return t, nil
}

// jsonText drops encoding/json's "json: " prefix.
func jsonText(err error) string {
	s := err.Error()
	if len(s) > 6 && s[:6] == "json: " {
		return s[6:]
	}
	return s
}
