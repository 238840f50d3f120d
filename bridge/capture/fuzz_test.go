package capture_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/capture"
	"github.com/cifbridge/cifbridge/protocol"
)

// FuzzFrameRoundTrip writes any message as a frame and reads it back with
// protocol.CaptureReader: the file always reads, valid JSON comes back as
// Redact left it (newlines as spaces), anything else as an "invalid" string.
// Surrounding whitespace is not kept.
func FuzzFrameRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"bridge.hello","params":{"enreachToken":"t"}}`,
		"{\n\"a\":\r\n[1, \"x\\ny\"]}",
		"not json\n",
		``,
		`"Bearer x"`,
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := capture.New(capture.Config{Dir: t.TempDir(), SyncInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		s := c.Open("fz", "", 0)
		s.Frame("backend", "in", msg)
		path := s.Path()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		_, frames, err := protocol.ReadCaptureFile(path)
		if err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		if len(frames) != 1 {
			t.Fatalf("%q: %d frames", msg, len(frames))
		}
		fr := frames[0]
		if json.Valid(msg) {
			want := bytes.Map(func(r rune) rune {
				if r == '\n' || r == '\r' {
					return ' '
				}
				return r
			}, capture.Redact(bytes.TrimSpace(msg)))
			if fr.Invalid || (utf8Clean(msg) && !bytes.Equal(fr.Msg, want)) {
				t.Fatalf("%q stored as %q (invalid %v), want %q", msg, fr.Msg, fr.Invalid, want)
			}
			return
		}
		var stored string
		if !fr.Invalid || json.Unmarshal(fr.Msg, &stored) != nil {
			t.Fatalf("%q stored as %q (invalid %v)", msg, fr.Msg, fr.Invalid)
		}
	})
}

// utf8Clean reports whether bytes.Map can be compared byte for byte.
func utf8Clean(b []byte) bool { return bytes.Equal(bytes.ToValidUTF8(b, nil), b) }
