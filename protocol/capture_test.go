package protocol_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

func TestReadCaptureFileNormal(t *testing.T) {
	h, frames, err := protocol.ReadCaptureFile("testdata/capture/normal.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	wantStarted := time.Date(2025, 5, 1, 12, 0, 0, 1, time.UTC)
	if h.Format != protocol.CaptureFormat || h.Version != 1 || h.Bridge != "v0.1.0" || h.Profile != "cif1" ||
		h.TimeoutMs != 10000 || !h.Started.Equal(wantStarted) || h.Session != "s-normal" || h.Part != 0 || h.Source != "" {
		t.Fatalf("header = %+v", h)
	}
	if len(frames) != 8 {
		t.Fatalf("got %d frames, want 8", len(frames))
	}
	// msg is byte-exact: the double space and the "<" stay as written.
	lines := strings.Split(readFile(t, "testdata/capture/normal.jsonl"), "\n")
	for i, f := range frames {
		if f.Line != i+2 {
			t.Errorf("frame %d: Line = %d, want %d", i, f.Line, i+2)
		}
		if !strings.Contains(lines[i+1], `"msg":`+string(f.Msg)) {
			t.Errorf("frame %d: msg %s is not byte-exact", i, f.Msg)
		}
	}
	if got := string(frames[2].Msg); !strings.Contains(got, `"firstname":"Ada",  "lastname"`) {
		t.Errorf("frame 2 msg = %s", got)
	}
	if f := frames[3]; f.Peer != "backend" || f.Dir != "out" || f.Session != "s-normal" {
		t.Errorf("frame 3 = %+v", f)
	}
	if f := frames[7]; !f.Invalid || string(f.Msg) != `"{not json"` || f.Peer != "host" {
		t.Errorf("frame 7 = %+v", f)
	}
}

func TestCaptureReaderTorn(t *testing.T) {
	r := openCapture(t, "torn.jsonl")
	if n := countFrames(t, r); n != 2 || !r.Torn() {
		t.Fatalf("frames = %d, torn = %v; want 2, true", n, r.Torn())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after EOF = %v", err)
	}
}

func TestCaptureReaderLastLineWithoutNewline(t *testing.T) {
	data := strings.TrimSuffix(readFile(t, "testdata/capture/normal.jsonl"), "\n")
	r, err := protocol.NewCaptureReader(strings.NewReader(data), "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	n := countFrames(t, r)
	if n != 8 || r.Torn() {
		t.Fatalf("frames = %d, torn = %v; want 8, false", n, r.Torn())
	}
}

func TestCaptureReaderBadInput(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    string // substring of the error, which names file and line
		wantErr error
	}{
		{"newer version", "newer.jsonl", "newer.jsonl:1: capture was written by a newer cifbridge (format version 2); this build reads version 1", protocol.ErrCaptureNewer},
		{"unknown format", "unknown-format.jsonl", `unknown-format.jsonl:1: not a cifbridge capture: header "format" is "some-other-tool"`, protocol.ErrNotCapture},
		{"version zero", "version-zero.jsonl", "version-zero.jsonl:1: bad capture line: unknown format version 0", protocol.ErrCaptureSyntax},
		{"header not json", "not-json-header.jsonl", "not-json-header.jsonl:1: not a cifbridge capture", protocol.ErrNotCapture},
		{"empty file", "empty.jsonl", "empty.jsonl:1: not a cifbridge capture: empty file", protocol.ErrNotCapture},
		{"non-JSON line in the middle", "non-json-middle.jsonl", "non-json-middle.jsonl:3: bad capture line: not a JSON object", protocol.ErrCaptureSyntax},
		{"torn line in the middle", "torn-middle.jsonl", "torn-middle.jsonl:3: bad capture line", protocol.ErrCaptureSyntax},
		{"missing peer", "missing-peer.jsonl", `missing-peer.jsonl:2: bad capture line: frame has no "peer"`, protocol.ErrCaptureSyntax},
		{"missing t", "missing-t.jsonl", `missing-t.jsonl:2: bad capture line: "t" is missing`, protocol.ErrCaptureSyntax},
		{"missing msg", "missing-msg.jsonl", `missing-msg.jsonl:3: bad capture line: frame has no "msg"`, protocol.ErrCaptureSyntax},
		{"concatenated", "concatenated.jsonl", "concatenated.jsonl:3: bad capture line: a header line in the middle", protocol.ErrCaptureSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readFile(t, filepath.Join("testdata/capture", tt.file))
			err := readAll(strings.NewReader(data), tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant containing %q", err, tt.want)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantErr)
			}
			var ce *protocol.CaptureError
			if !errors.As(err, &ce) || ce.File != tt.file || ce.Line < 1 {
				t.Errorf("not a *CaptureError naming the file and line: %#v", err)
			}
		})
	}
}

func TestCaptureReaderBadFrames(t *testing.T) {
	header := `{"format":"cifbridge-capture","version":1,"profile":"cif2","timeoutMs":100000,"started":"2025-05-01T12:00:00Z","session":"s"}` + "\n"
	frame := func(s string) string { return header + s + "\n" }
	tests := []struct {
		name, input, want string
	}{
		{"bad time", frame(`{"t":"yesterday","peer":"widget","dir":"in","msg":{}}`), `c.jsonl:2: bad capture line: "t" is not an RFC 3339 time`},
		{"unknown peer", frame(`{"t":"2025-05-01T12:00:00Z","peer":"nobody","dir":"in","msg":{}}`), `c.jsonl:2: bad capture line: unknown "peer" "nobody"`},
		{"unknown dir", frame(`{"t":"2025-05-01T12:00:00Z","peer":"host","dir":"up","msg":{}}`), `c.jsonl:2: bad capture line: unknown "dir" "up"`},
		{"missing dir", frame(`{"t":"2025-05-01T12:00:00Z","peer":"host","msg":{}}`), `c.jsonl:2: bad capture line: frame has no "dir"`},
		{"wrong type", frame(`{"t":"2025-05-01T12:00:00Z","peer":7,"dir":"in","msg":{}}`), `c.jsonl:2: bad capture line: cannot unmarshal number`},
		{"array line", frame(`[1,2]`), `c.jsonl:2: bad capture line: not a JSON object`},
		{"invalid not a string", frame(`{"t":"2025-05-01T12:00:00Z","peer":"host","dir":"in","msg":{},"invalid":true}`), `must hold its bytes as a JSON string`},
		{"no session anywhere", strings.Replace(header, `"session":"s"`, `"session":""`, 1) + `{"t":"2025-05-01T12:00:00Z","peer":"host","dir":"in","msg":{}}` + "\n", `c.jsonl:2: bad capture line: frame has no "session"`},
		{"unknown profile", strings.Replace(header, "cif2", "cif3", 1), `c.jsonl:1: bad capture line: unknown header "profile" "cif3"`},
		{"missing timeout", strings.Replace(header, `"timeoutMs":100000,`, "", 1), `c.jsonl:1: bad capture line: header "timeoutMs" is missing`},
		{"missing started", strings.Replace(header, `"started":"2025-05-01T12:00:00Z",`, "", 1), `c.jsonl:1: bad capture line: "started" is missing`},
		{"unknown source", strings.Replace(header, `"version":1,`, `"version":1,"source":"fax",`, 1), `c.jsonl:1: bad capture line: unknown header "source" "fax"`},
		{"torn header", header[:40], `c.jsonl:1: not a cifbridge capture: the header line is torn`},
		{"blank lines tolerated, then bad", header + "\n  \n" + "nope\n", `c.jsonl:4: bad capture line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readAll(strings.NewReader(tt.input), "c.jsonl")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant containing %q", err, tt.want)
			}
		})
	}
}

func TestCaptureReaderSessionFromHeader(t *testing.T) {
	in := `{"format":"cifbridge-capture","version":1,"profile":"cif1","timeoutMs":10000,"started":"2025-05-01T12:00:00Z","session":"hs","part":3}` + "\n" +
		`{"t":"2025-05-01T12:00:00Z","peer":"widget","dir":"in","msg":{"jsonrpc":"2.0","id":1,"method":"cif.getmode"}}` + "\n"
	r, err := protocol.NewCaptureReader(strings.NewReader(in), "p.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if r.Header().Part != 3 {
		t.Errorf("part = %d, want 3", r.Header().Part)
	}
	f, err := r.Next()
	if err != nil || f.Session != "hs" {
		t.Fatalf("Next = %+v, %v", f, err)
	}
}

func TestCaptureReaderLongLine(t *testing.T) {
	header := readFile(t, "testdata/capture/normal.jsonl")[:strings.Index(readFile(t, "testdata/capture/normal.jsonl"), "\n")+1]
	big := strings.Repeat("x", 200<<10) // far beyond the bufio buffer
	in := header + `{"t":"2025-05-01T12:00:00Z","peer":"widget","dir":"in","msg":{"jsonrpc":"2.0","method":"n","params":{"b":"` + big + `"}}}` + "\n"
	r, err := protocol.NewCaptureReader(strings.NewReader(in), "big.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Next()
	if err != nil || !bytes.Contains(f.Msg, []byte(big)) {
		t.Fatalf("Next = %d bytes, %v", len(f.Msg), err)
	}
}

func TestReadCaptureFileMissing(t *testing.T) {
	_, _, err := protocol.ReadCaptureFile(filepath.Join(t.TempDir(), "nope.jsonl"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "open capture: ") {
		t.Fatalf("err = %v", err)
	}
}

// TestReadCaptureFileDirectory: a directory given as a capture file is
// refused with the path named once ("read capture: read DIR: is a
// directory"), as a missing file is ("open capture: open FILE: …").
func TestReadCaptureFileDirectory(t *testing.T) {
	dir := t.TempDir()
	_, _, err := protocol.ReadCaptureFile(dir)
	if err == nil {
		t.Fatal("reading a directory as a capture: no error")
	}
	if got := strings.Count(err.Error(), dir); got != 1 || !strings.HasPrefix(err.Error(), "read capture: ") {
		t.Fatalf("err = %q: want it to start \"read capture: \" and name %s once (named %d times)", err, dir, got)
	}
}

func FuzzCaptureReader(f *testing.F) {
	for _, name := range []string{"normal.jsonl", "torn.jsonl", "postmessage.jsonl", "newer.jsonl", "non-json-middle.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata/capture", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, normalize bool) {
		r, err := protocol.NewCaptureReader(bytes.NewReader(data), "fuzz.jsonl")
		if err != nil {
			var ce *protocol.CaptureError
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Fatalf("header error is not a located *CaptureError: %v", err)
			}
			return
		}
		r.Normalize = normalize
		for i := 0; ; i++ {
			fr, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var ce *protocol.CaptureError
				if !errors.As(err, &ce) || ce.Line < 2 {
					t.Fatalf("frame error is not a located *CaptureError: %v", err)
				}
				if _, again := r.Next(); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				return
			}
			if len(fr.Msg) == 0 || fr.Peer == "" || fr.Dir == "" || fr.Line < 2 {
				t.Fatalf("incomplete frame accepted: %+v", fr)
			}
			if i > len(data) {
				t.Fatal("more frames than bytes")
			}
		}
	})
}

func readAll(r io.Reader, name string) error {
	cr, err := protocol.NewCaptureReader(r, name)
	if err != nil {
		return err
	}
	_, err = cr.Rest()
	return err
}

func countFrames(t *testing.T, r *protocol.CaptureReader) int {
	t.Helper()
	frames, err := r.Rest()
	if err != nil {
		t.Fatal(err)
	}
	return len(frames)
}

// openCapture opens testdata/capture/name; the file is closed when the
// test ends.
func openCapture(t *testing.T, name string) *protocol.CaptureReader {
	t.Helper()
	r, err := protocol.OpenCaptureFile(filepath.Join("testdata", "capture", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
