package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// ErrBadInput marks a capture the replayer cannot use (exit status 2). The
// error text names the file and line.
var ErrBadInput = errors.New("bad capture")

// Frame is a captured frame with the file it came from.
type Frame struct {
	protocol.CaptureFrame
	File string
}

// Where is "file:line".
func (f Frame) Where() string { return fmt.Sprintf("%s:%d", f.File, f.Line) }

// Capture is one session's capture, its rotated parts joined.
type Capture struct {
	Files  []string
	Header protocol.CaptureHeader
	Frames []Frame
}

// Name is the capture's first file.
func (c *Capture) Name() string { return c.Files[0] }

// Load reads capture files and joins the parts of a rotated session (same
// session and start, ordered by "part"); browser-recorder captures are
// normalised to JSON-RPC. Every error wraps ErrBadInput (and the
// *protocol.CaptureError that names the file and line), except that a file
// which cannot be opened is reported as such.
func Load(paths ...string) ([]*Capture, error) {
	type key struct {
		session string
		started int64
	}
	var order []key
	parts := map[key][]*Capture{}
	for _, p := range paths {
		c, err := loadFile(p)
		if err != nil {
			return nil, err
		}
		k := key{c.Header.Session, c.Header.Started.UnixNano()}
		if _, ok := parts[k]; !ok {
			order = append(order, k)
		}
		parts[k] = append(parts[k], c)
	}
	var out []*Capture
	for _, k := range order {
		ps := parts[k]
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Header.Part < ps[j].Header.Part })
		c := ps[0]
		for _, p := range ps[1:] {
			c.Files = append(c.Files, p.Files...)
			c.Frames = append(c.Frames, p.Frames...)
		}
		out = append(out, c)
	}
	return out, nil
}

func loadFile(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	defer f.Close()
	r, err := protocol.NewCaptureReader(f, path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	r.Normalize = true
	c := &Capture{Files: []string{path}, Header: r.Header()}
	for {
		fr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		if !fr.Invalid {
			m := bytes.TrimSpace(fr.Msg)
			if len(m) == 0 || (m[0] != '{' && m[0] != '[') {
				return nil, fmt.Errorf("%w: %w", ErrBadInput, &protocol.CaptureError{File: path, Line: fr.Line,
					Err: fmt.Errorf("%w: \"msg\" is not a JSON-RPC object or batch", protocol.ErrCaptureSyntax)})
			}
		}
		if c.Header.Source == protocol.CaptureSourcePostMessage && !fr.Invalid {
			fr.Msg = canonicalMethod(fr.Msg)
		}
		c.Frames = append(c.Frames, Frame{CaptureFrame: fr, File: path})
	}
	return c, nil
}

// cifMethods are the bridge's spellings of the CIF calls; real CIF envelopes
// say "createRecord" where the bridge's method is "cif.createrecord".
var cifMethods = []string{
	protocol.MethodCreateRecord, protocol.MethodRetrieveRecord, protocol.MethodUpdateRecord,
	protocol.MethodDeleteRecord, protocol.MethodSearch, protocol.MethodSearchAndOpenRecords,
	protocol.MethodGetEnvironment, protocol.MethodOpenForm, protocol.MethodRefreshForm,
	protocol.MethodGetEntityMetadata, protocol.MethodSetClickToAct, protocol.MethodGetClickToAct,
	protocol.MethodSetMode, protocol.MethodGetMode, protocol.MethodSetWidth, protocol.MethodGetWidth,
	protocol.MethodRenderSearchPage,
}

// canonicalMethod rewrites a request's method to the bridge's spelling when
// they differ only in case.
func canonicalMethod(msg json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	var method string
	if json.Unmarshal(m["method"], &method) != nil {
		return msg
	}
	for _, k := range cifMethods {
		if k != method && strings.EqualFold(k, method) {
			m["method"], _ = json.Marshal(k)
			out, err := json.Marshal(m)
			if err != nil {
				return msg
			}
			return out
		}
	}
	return msg
}
