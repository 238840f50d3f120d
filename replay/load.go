package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

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
// normalised to JSON-RPC (protocol.EnvelopeToJSONRPC). Every error wraps ErrBadInput (and the
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
	r, err := protocol.OpenCaptureFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	defer r.Close()
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
		c.Frames = append(c.Frames, Frame{CaptureFrame: fr, File: path})
	}
	return c, nil
}
