package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
// normalised to JSON-RPC (protocol.EnvelopeToJSONRPC). A session's first
// file brings its parts with it: the daemon's <stem>-0001.jsonl, … beside
// it are read too when not given. A path given twice is read once; a part
// without the parts before it is bad input naming the missing file. Every
// error wraps ErrBadInput (and the *protocol.CaptureError that names the
// file and line), except that a file which cannot be opened is reported as
// such.
func Load(paths ...string) ([]*Capture, error) {
	type key struct {
		session string
		started int64
	}
	var order []key
	parts := map[key][]*Capture{}
	read := map[string]bool{}
	add := func(c *Capture) {
		k := key{c.Header.Session, c.Header.Started.UnixNano()}
		if _, ok := parts[k]; !ok {
			order = append(order, k)
		}
		parts[k] = append(parts[k], c)
	}
	for _, p := range paths {
		if read[filepath.Clean(p)] {
			continue
		}
		read[filepath.Clean(p)] = true
		c, err := loadFile(p)
		if err != nil {
			return nil, err
		}
		add(c)
		if c.Header.Part != 0 {
			continue
		}
		for n := 1; ; n++ {
			sib := partPath(p, n)
			if read[filepath.Clean(sib)] {
				continue
			}
			if _, err := os.Stat(sib); err != nil {
				break
			}
			sc, err := loadFile(sib)
			if err != nil {
				return nil, err
			}
			if sc.Header.Session != c.Header.Session || !sc.Header.Started.Equal(c.Header.Started) || sc.Header.Part != n {
				break // not this session's part: leave it alone
			}
			read[filepath.Clean(sib)] = true
			add(sc)
		}
	}
	var out []*Capture
	for _, k := range order {
		ps := parts[k]
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Header.Part < ps[j].Header.Part })
		for i, p := range ps {
			if p.Header.Part == i {
				continue
			}
			if i > 0 && p.Header.Part == ps[i-1].Header.Part {
				return nil, fmt.Errorf("%w: %s and %s are both part %d of session %s: give each part once",
					ErrBadInput, ps[i-1].Name(), p.Name(), p.Header.Part, p.Header.Session)
			}
			first := ps[0].Name()
			want := partPath(first, i)
			if i == 0 {
				want = firstPartPath(first, p.Header.Part)
			}
			return nil, fmt.Errorf("%w: %s is part %d of session %s, but part %d (%s) is not among the files: give every part of a rotated session, or its first file",
				ErrBadInput, p.Name(), p.Header.Part, p.Header.Session, i, filepath.Base(want))
		}
		c := ps[0]
		for _, p := range ps[1:] {
			c.Files = append(c.Files, p.Files...)
			c.Frames = append(c.Frames, p.Frames...)
		}
		out = append(out, c)
	}
	return out, nil
}

// partPath is the name the daemon gives part n of the session whose first
// file is first (bridge/capture: <stem>-0001.jsonl, …).
func partPath(first string, n int) string {
	return fmt.Sprintf("%s-%04d.jsonl", strings.TrimSuffix(first, ".jsonl"), n)
}

// firstPartPath is the first file of the session whose part n is at path.
func firstPartPath(path string, n int) string {
	return strings.TrimSuffix(path, fmt.Sprintf("-%04d.jsonl", n)) + ".jsonl"
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
