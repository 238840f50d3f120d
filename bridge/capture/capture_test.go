package capture_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/capture"
	"github.com/cifbridge/cifbridge/protocol"
)

var t0 = time.Date(2025, 5, 1, 12, 0, 0, 123456789, time.UTC)

// fakeClock advances 1 ms per call.
func fakeClock() func() time.Time {
	var mu sync.Mutex
	now := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
}

func newCapturer(t testing.TB, cfg capture.Config) *capture.Capturer {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "captures")
	}
	c, err := capture.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{Dir: dir, Version: "v1.2.3", Now: fakeClock()})
	s := c.Open("s-1", "cif2", 0)
	if s == nil {
		t.Fatal("Open returned nil")
	}
	frames := []struct {
		peer, dir, msg string
		want           string // stored msg; "" means byte-exact msg
		invalid        bool
	}{
		{"widget", "in", `{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"<Ada>",   "x":1.50}}}`, "", false},
		{"backend", "out", `{"jsonrpc":"2.0","id":"at-1","method":"cif.createrecord","params":{}}`, "", false},
		{"backend", "in", `{"jsonrpc":"2.0","id":"at-1","result":"{\"entityType\":\"contact\",\"id\":\"g\"}"}`, "", false},
		{"widget", "out", "{\n  \"jsonrpc\": \"2.0\",\r\n  \"id\": 1,\n  \"result\": {\"a\\nb\": 1}\n}", "{   \"jsonrpc\": \"2.0\",    \"id\": 1,   \"result\": {\"a\\nb\": 1} }", false},
		{"host", "in", "not json\n<at all>", `"not json\n<at all>"`, true},
		{"host", "out", ``, `""`, true},
	}
	for _, f := range frames {
		s.Frame(f.peer, f.dir, []byte(f.msg))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	got := files(t, dir)
	if want := filepath.Join(dir, "s-1-20250501T120000Z.jsonl"); len(got) != 1 || got[0] != want {
		t.Fatalf("files = %v, want [%s]", got, want)
	}
	h, read, err := protocol.ReadCaptureFile(got[0])
	if err != nil {
		t.Fatal(err)
	}
	wantH := protocol.CaptureHeader{Format: "cifbridge-capture", Version: 1, Bridge: "v1.2.3", Profile: "cif2", TimeoutMs: 100000, Started: t0.Add(time.Millisecond), Session: "s-1"}
	if !h.Started.Equal(wantH.Started) {
		t.Errorf("started = %v, want %v", h.Started, wantH.Started)
	}
	h.Started = wantH.Started
	if h != wantH {
		t.Errorf("header = %+v\nwant     %+v", h, wantH)
	}
	if len(read) != len(frames) {
		t.Fatalf("read %d frames, want %d", len(read), len(frames))
	}
	for i, f := range frames {
		r := read[i]
		want := f.want
		if want == "" {
			want = f.msg
		}
		if r.Peer != f.peer || r.Dir != f.dir || r.Session != "s-1" || r.Invalid != f.invalid || string(r.Msg) != want {
			t.Errorf("frame %d = %+v (msg %s)\nwant msg %s", i, r, r.Msg, want)
		}
		if wantT := t0.Add(time.Duration(i+2) * time.Millisecond); !r.T.Equal(wantT) {
			t.Errorf("frame %d: t = %v, want %v", i, r.T, wantT)
		}
	}
}

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
		c := newCapturer(t, capture.Config{Dir: t.TempDir(), SyncInterval: -1})
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

func TestFileNames(t *testing.T) {
	dir := t.TempDir()
	fixed := func() time.Time { return t0 }
	c := newCapturer(t, capture.Config{Dir: dir, Now: fixed})
	a, b := c.Open("s-1", "", 0), c.Open("s-1", "", 0) // resumed within the same second
	odd := c.Open("../etc/pass wd", "", 0)
	for _, s := range []*capture.Session{a, b, odd} {
		s.Frame("widget", "in", []byte(`{}`))
	}
	want := []string{
		filepath.Join(dir, "___etc_pass_wd-20250501T120000Z.jsonl"),
		filepath.Join(dir, "s-1-20250501T120000Z.jsonl"),
		filepath.Join(dir, "s-1-20250501T120000Z_2.jsonl"),
	}
	if got := []string{odd.Path(), a.Path(), b.Path()}; !slices.Equal(got, want) {
		t.Fatalf("paths = %v\nwant    %v", got, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v", got)
	}
	h, _, err := protocol.ReadCaptureFile(want[0])
	if err != nil || h.Session != "../etc/pass wd" || h.Profile != "cif1" || h.TimeoutMs != 10000 {
		t.Fatalf("header = %+v, %v", h, err)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{Dir: dir, MaxFileBytes: 2048, Now: fakeClock()})
	s := c.Open("rot", "cif1", 10000)
	const n = 60
	pad := strings.Repeat("p", 150)
	for i := range n {
		s.Frame("widget", "in", fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"x","params":{"seq":%d,"pad":%q}}`, i, pad))
	}
	big := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"x","params":{"seq":%d,"pad":%q}}`, n, strings.Repeat("b", 5000))
	s.Frame("widget", "in", big) // bigger than a part: gets a part of its own
	s.Frame("widget", "in", fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"x","params":{"seq":%d}}`, n+1))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	paths := files(t, dir)
	if len(paths) < 5 {
		t.Fatalf("only %d parts: %v", len(paths), paths)
	}
	type part struct {
		h      protocol.CaptureHeader
		frames []protocol.CaptureFrame
	}
	var parts []part
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		h, fr, err := protocol.ReadCaptureFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 2048 && len(fr) != 1 {
			t.Errorf("%s: %d bytes with %d frames", p, fi.Size(), len(fr))
		}
		wantName := "rot-20250501T120000Z.jsonl"
		if h.Part > 0 {
			wantName = fmt.Sprintf("rot-20250501T120000Z-%04d.jsonl", h.Part)
		}
		if filepath.Base(p) != wantName {
			t.Errorf("%s has part %d", p, h.Part)
		}
		parts = append(parts, part{h, fr})
	}
	slices.SortFunc(parts, func(a, b part) int { return a.h.Part - b.h.Part })
	seq := 0
	for i, p := range parts {
		if p.h.Part != i || p.h.Session != "rot" || p.h.Profile != "cif1" || !p.h.Started.Equal(parts[0].h.Started) {
			t.Errorf("part %d header = %+v", i, p.h)
		}
		for _, f := range p.frames {
			var m struct {
				Params struct{ Seq int } `json:"params"`
			}
			if err := json.Unmarshal(f.Msg, &m); err != nil || m.Params.Seq != seq {
				t.Fatalf("part %d: seq %d, want %d (%v)", i, m.Params.Seq, seq, err)
			}
			seq++
		}
	}
	if seq != n+2 {
		t.Fatalf("read %d frames, want %d", seq, n+2)
	}
	if st := c.Stats(); st.Files != int64(len(paths)) || st.Frames != n+2 || st.Dropped != 0 || st.Open != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRedactionOnDisk(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{Dir: dir})
	s := c.Open("sec", "", 0)
	secrets := []string{"tok-AAA", "tok-BBB", "dXNlcjpwYXNz", "hunter2", "cs-CCC", "key-DDD", "eyJhbGciOi.JIUzI1NiJ9.e30", "enr-EEE"}
	msgs := []string{
		`{"jsonrpc":"2.0","id":1,"method":"bridge.hello","params":{"enreachToken":"tok-AAA","client":"softphone"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"enreach.executeQuery","params":{"query":"/users/me","headers":{"Authorization":"Bearer tok-BBB"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"x","params":{"h":["Basic dXNlcjpwYXNz"],"Password":"hunter2","client_secret":"cs-CCC","apiKey":{"k":"key-DDD"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"enreach.xrm.createRecord","params":{"entityLogicalName":"x","data":"{\"note\":\"bearer eyJhbGciOi.JIUzI1NiJ9.e30\",\"token\":\"enr-EEE\"}"}}`,
		"Authorization: Bearer tok-AAA\r\npassword=hunter2",
	}
	for _, m := range msgs {
		s.Frame("widget", "in", []byte(m))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	path := files(t, dir)[0]
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets {
		if bytes.Contains(raw, []byte(sec)) {
			t.Errorf("secret %q reached the disk:\n%s", sec, raw)
		}
	}
	_, frames, err := protocol.ReadCaptureFile(path)
	if err != nil || len(frames) != len(msgs) {
		t.Fatalf("read %d frames, %v", len(frames), err)
	}
	if got, want := string(frames[0].Msg), `{"jsonrpc":"2.0","id":1,"method":"bridge.hello","params":{"enreachToken":"[redacted]","client":"softphone"}}`; got != want {
		t.Errorf("frame 0 = %s\nwant      %s", got, want)
	}
	if !frames[4].Invalid {
		t.Errorf("frame 4 should be invalid: %+v", frames[4])
	}
}

func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{Dir: dir})
	s := c.Open("torn", "", 0)
	for i := range 5 {
		s.Frame("widget", "in", fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"cif.getmode"}`, i))
	}
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What a SIGKILL mid-write leaves: part of a line, no newline.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"t":"2025-05-01T12:00:00Z","session":"torn","peer":"wid`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	r := openReader(t, path)
	frames, err := r.Rest()
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 5 || !r.Torn() {
		t.Fatalf("frames = %d, torn = %v; want 5, true", len(frames), r.Torn())
	}
}

func TestFilter(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{
		Dir:      dir,
		Sessions: []string{"incident-*", "s-[0-9]"},
		Filter:   func(s string) bool { return !strings.HasSuffix(s, "-skip") },
	})
	tests := []struct {
		session string
		want    bool
	}{
		{"incident-42", true},
		{"incident-42-skip", false},
		{"s-7", true},
		{"s-77", false},
		{"other", false},
	}
	for _, tt := range tests {
		s := c.Open(tt.session, "", 0)
		if got := s != nil; got != tt.want || c.Captures(tt.session) != tt.want {
			t.Errorf("Open(%q) captured = %v, want %v", tt.session, got, tt.want)
		}
		// A nil *Session is safe to use.
		s.Frame("widget", "in", []byte(`{}`))
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if got := len(files(t, dir)); got != 2 {
		t.Errorf("%d files, want 2", got)
	}
	if _, err := capture.New(capture.Config{Dir: dir, Sessions: []string{"[bad"}}); err == nil || !strings.Contains(err.Error(), `session pattern "[bad"`) {
		t.Errorf("bad pattern: err = %v", err)
	}
	if _, err := capture.New(capture.Config{}); err == nil {
		t.Error("empty Dir accepted")
	}
	var nilC *capture.Capturer
	if nilC.Open("x", "", 0) != nil || nilC.Close() != nil || nilC.Stats() != (capture.Stats{}) {
		t.Error("nil Capturer is not inert")
	}
}

func TestClosedAndBadFrames(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{Dir: dir, SyncInterval: -1})
	s := c.Open("s", "", 0)
	s.Frame("nobody", "in", []byte(`{}`))
	s.Frame("widget", "sideways", []byte(`{}`))
	s.Frame("widget", "in", []byte(`{}`))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Frame("widget", "in", []byte(`{}`)) // after Close: dropped
	if c.Open("s2", "", 0) != nil {
		t.Error("Open after Close returned a session")
	}
	if st := c.Stats(); st.Frames != 1 || st.Dropped != 3 || st.Open != 0 {
		t.Errorf("stats = %+v", st)
	}
	_, frames, err := protocol.ReadCaptureFile(files(t, dir)[0])
	if err != nil || len(frames) != 1 {
		t.Fatalf("frames = %d, %v", len(frames), err)
	}
}

func TestConcurrentSessions(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{Dir: dir, SyncInterval: time.Millisecond, MaxFileBytes: 16 << 10})
	const sessions, writers, perWriter = 24, 4, 60
	var wg sync.WaitGroup
	for i := range sessions {
		s := c.Open(fmt.Sprintf("s-%02d", i), "", 0)
		var sw sync.WaitGroup
		for w := range writers {
			sw.Go(func() {
				for k := range perWriter {
					s.Frame("widget", "in", fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"n","params":{"w":%d,"k":%d,"token":"t-%d"}}`, w, k, k))
				}
			})
		}
		wg.Go(func() {
			sw.Wait()
			if i%2 == 0 {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil { // closes the odd sessions
		t.Fatal(err)
	}
	perSession := map[string]map[int]int{} // session → writer → next k
	for _, p := range files(t, dir) {
		_, frames, err := protocol.ReadCaptureFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			var m struct {
				Params struct {
					W, K  int
					Token string
				} `json:"params"`
			}
			if err := json.Unmarshal(f.Msg, &m); err != nil {
				t.Fatal(err)
			}
			if m.Params.Token != capture.Redacted {
				t.Fatalf("token on disk: %s", f.Msg)
			}
			if perSession[f.Session] == nil {
				perSession[f.Session] = map[int]int{}
			}
			perSession[f.Session][m.Params.W]++
		}
	}
	if len(perSession) != sessions {
		t.Fatalf("%d sessions on disk, want %d", len(perSession), sessions)
	}
	for s, ws := range perSession {
		for w := range writers {
			if ws[w] != perWriter {
				t.Errorf("session %s writer %d: %d frames, want %d", s, w, ws[w], perWriter)
			}
		}
	}
	if st := c.Stats(); st.Frames != sessions*writers*perWriter || st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestCloseWhileWriting closes the Capturer under writers: nothing panics or
// races, and what is on disk reads back cleanly.
func TestCloseWhileWriting(t *testing.T) {
	dir := t.TempDir()
	c := newCapturer(t, capture.Config{Dir: dir, SyncInterval: time.Millisecond})
	var wg, writing sync.WaitGroup
	writing.Add(8)
	for i := range 8 {
		wg.Go(func() {
			s := c.Open(fmt.Sprintf("w%d", i), "", 0)
			for k := range 2000 {
				s.Frame("host", "out", fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"result":null}`, k))
				if k == 10 {
					writing.Done() // this writer is under way: Close now races it
				}
			}
		})
	}
	writing.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, p := range files(t, dir) {
		if _, _, err := protocol.ReadCaptureFile(p); err != nil {
			t.Fatal(err)
		}
	}
	// A session opened after Close is nil and counts nothing.
	if st := c.Stats(); st.Frames+st.Dropped > 8*2000 || st.Open != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// BenchmarkFrame writes one widget frame: a create (nothing to redact) and
// a bridge.hello (its token redacted).
func BenchmarkFrame(b *testing.B) {
	for _, bm := range []struct{ name, msg string }{
		{"plain", `{"jsonrpc":"2.0","id":42,"method":"cif.createrecord","params":{"entityName":"phonecall","value":{"subject":"Call +358401234567","phonenumber":"+358401234567","directioncode":true}}}`},
		{"redacted", `{"jsonrpc":"2.0","id":1,"method":"bridge.hello","params":{"enreachToken":"tok-AAA","client":"softphone","profile":"cif1"}}`},
	} {
		b.Run(bm.name, func(b *testing.B) {
			c := newCapturer(b, capture.Config{Dir: b.TempDir()})
			s := c.Open("bench", "", 0)
			msg := []byte(bm.msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				s.Frame("widget", "in", msg)
			}
		})
	}
}

// TestSyncInterval: a written file is fsynced within one SyncInterval (in a
// synctest bubble, so the interval is exact), a clean one is not synced
// again, and Close syncs what is left; with a negative interval only Close
// syncs.
func TestSyncInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := capture.New(capture.Config{Dir: t.TempDir(), SyncInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s := c.Open("s-1", "", 0)
		s.Frame(protocol.CapturePeerWidget, protocol.CaptureDirIn, []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.getmode"}`))
		checkTimeline(t, "syncs", func() int64 { return c.Stats().Syncs },
			step{999 * time.Millisecond, 0, "before the interval"},
			step{time.Millisecond, 1, "after one interval"},
			step{10 * time.Second, 1, "of a clean file (nothing written: nothing to sync)"})
		s.Frame(protocol.CapturePeerWidget, protocol.CaptureDirOut, []byte(`{"jsonrpc":"2.0","id":1,"result":1}`))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if n := c.Stats().Syncs; n != 2 {
			t.Fatalf("syncs after Close = %d, want 2", n)
		}
	})
	c := newCapturer(t, capture.Config{SyncInterval: -1})
	s := c.Open("s-2", "", 0)
	for i := range 10 {
		s.Frame(protocol.CapturePeerWidget, protocol.CaptureDirIn, []byte(`{"jsonrpc":"2.0","id":`+strconv.Itoa(i)+`,"method":"cif.getmode"}`))
	}
	if n := c.Stats().Syncs; n != 0 {
		t.Fatalf("syncs with SyncInterval -1 before Close = %d", n)
	}
	c.Close()
	if n := c.Stats().Syncs; n != 1 {
		t.Fatalf("syncs with SyncInterval -1 after Close = %d, want 1", n)
	}
}
