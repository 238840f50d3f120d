package capture_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/capture"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/replay"
	"github.com/rs/zerolog"
)

// routedBridge is a bridge on the emulator whose frames a capture.Router
// writes to dir, run inside the caller's synctest bubble.
type routedBridge struct {
	srv *bridge.Server
	c   *capture.Capturer
	r   *capture.Router
	hc  *client.Options
	url string
}

// startRoutedBridge wires capture into a bridge the way serve's capture
// plug-in does (OnFrame, OnSessionEnd, the correlation table as Pending).
// The first createrecord answers after 12 s, past CIF 1.0's 10 s timeout.
func startRoutedBridge(t *testing.T, dir string, resume time.Duration) *routedBridge {
	t.Helper()
	c, err := capture.New(capture.Config{Dir: dir, SyncInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.New(emulator.Config{Faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 12_000, Count: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	rb := &routedBridge{c: c}
	rb.r = capture.NewRouter(c, capture.RouterConfig{Pending: func(session string) []string {
		return capture.PendingAttempts(rb.srv.Table(), session)
	}})
	rb.srv, err = bridge.New(bridge.Config{Backend: emu, ResumeWindow: resume, OnFrame: rb.r.Frame, OnSessionEnd: rb.r.End})
	if err != nil {
		t.Fatal(err)
	}
	ln, hc := testutil.ServePipe(t, rb.srv.Handler())
	rb.url = "ws://" + ln.Addr().String() + protocol.PathWidget
	rb.hc = &client.Options{HTTPClient: hc}
	t.Cleanup(func() {
		rb.shutdown(t)
		rb.r.Close()
		c.Close()
	})
	return rb
}

func (rb *routedBridge) shutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rb.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// call sends one request and returns its answer.
func call(t *testing.T, w *client.RawConn, id, method, params string) testutil.Answer {
	t.Helper()
	a, err := testutil.RawCall(context.Background(), w, json.RawMessage(id), method, json.RawMessage(params))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return a
}

// helloCreate says hello (resuming session with token when not "") and
// sends a createrecord; it returns the hello result and the create's answer.
// The request ids name the session resumed, so that those of a resume
// differ from the first socket's, as a real client's would.
func helloCreate(t *testing.T, w *client.RawConn, session, token string) (protocol.HelloResult, testutil.Answer) {
	t.Helper()
	hp := `{}`
	if session != "" {
		hp = `{"session":"` + session + `","resumeToken":"` + token + `"}`
	}
	var h protocol.HelloResult
	if a := call(t, w, `"h`+session+`"`, protocol.MethodHello, hp); a.Error != nil || json.Unmarshal(a.Result, &h) != nil {
		t.Fatalf("hello: %s", a.Raw)
	}
	return h, call(t, w, `"c`+session+`"`, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"Late"}}`)
}

// drain reads w until it closes, as a widget does: it completes the close
// handshake the bridge starts at shutdown.
func drain(w *client.RawConn) {
	for {
		if _, err := w.Read(context.Background()); err != nil {
			return
		}
	}
}

// sessionFiles returns the capture files in dir, and which of them belong
// to session.
func sessionFiles(t *testing.T, dir, session string) (all, mine []string) {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if strings.HasPrefix(filepath.Base(f), session+"-") {
			mine = append(mine, f)
		}
	}
	return all, mine
}

// oneCapture checks that session has exactly one capture file, that its
// frames are in time order, that every backend request in it is followed by
// its answer, and that replay loads it as one capture; it returns the frames.
func oneCapture(t *testing.T, dir, session string) []protocol.CaptureFrame {
	t.Helper()
	all, mine := sessionFiles(t, dir, session)
	if len(mine) != 1 {
		t.Fatalf("session %s has capture files %v (all: %v), want exactly one", session, mine, all)
	}
	h, frames, err := protocol.ReadCaptureFile(mine[0])
	if err != nil || h.Session != session {
		t.Fatalf("read %s: header %+v, %v", mine[0], h, err)
	}
	open := map[string]bool{}
	for i, f := range frames {
		if i > 0 && f.T.Before(frames[i-1].T) {
			t.Errorf("frame %d (%s) is older than frame %d", i+1, f.Msg, i)
		}
		if f.Peer != protocol.CapturePeerBackend {
			continue
		}
		var m struct {
			ID string `json:"id"`
		}
		json.Unmarshal(f.Msg, &m)
		if f.Dir == protocol.CaptureDirOut {
			open[m.ID] = true
		} else if !open[m.ID] {
			t.Errorf("backend answer %s without its request before it", f.Msg)
		} else {
			delete(open, m.ID)
		}
	}
	if len(open) > 0 {
		t.Errorf("backend requests without their answer: %v", open)
	}
	caps, err := replay.Load(mine...)
	if err != nil || len(caps) != 1 {
		t.Fatalf("replay.Load: %d captures, %v", len(caps), err)
	}
	return frames
}

// lastBackendAnswer is the last backend answer among frames.
func lastBackendAnswer(t *testing.T, frames []protocol.CaptureFrame) protocol.CaptureFrame {
	t.Helper()
	for i := len(frames) - 1; i >= 0; i-- {
		if f := frames[i]; f.Peer == protocol.CapturePeerBackend && f.Dir == protocol.CaptureDirIn {
			return f
		}
	}
	t.Fatal("no backend answer captured")
	return protocol.CaptureFrame{}
}

// TestRouterLateAnswerAfterShutdownClose is the regression test of a
// second capture file: at shutdown a session ends as soon as its socket
// closes (the widget completes the close handshake), and the late answer of
// its timed-out create comes after that. It must land in the session's one
// file, not open another.
func TestRouterLateAnswerAfterShutdownClose(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		rb := startRoutedBridge(t, dir, time.Minute)
		w, h := timedOutCreate(t, rb)
		go drain(w)
		rb.shutdown(t) // at 10 s: closes the widget's socket, which ends the session
		// The emulator answers at 12 s.
		wantLateAnswerCaptured(t, rb, dir, h.Session, "ended", 3*time.Second)
	})
}

// timedOutCreate dials rb's widget, says hello and makes a create that
// the emulator answers only after the CIF timeout, which the widget gets.
func timedOutCreate(t *testing.T, rb *routedBridge) (*client.RawConn, protocol.HelloResult) {
	t.Helper()
	w := testutil.DialRaw(t, rb.url, rb.hc)
	h, a := helloCreate(t, w, "", "")
	if a.Error == nil || a.Error.Code != protocol.CodeTimeout {
		t.Fatalf("create: %s, want the CIF timeout", a.Raw)
	}
	return w, h
}

// wantLateAnswerCaptured checks, once session has ended (how: "ended",
// "expired") with its create's late answer pending, that its capture is
// still open; that after wait the late success has come, closed it and
// landed in the session's one file; and that the file replays in full.
func wantLateAnswerCaptured(t *testing.T, rb *routedBridge, dir, session, how string, wait time.Duration) {
	t.Helper()
	if got := rb.c.Stats().Open; got != 1 {
		t.Errorf("%d captures open after the session %s with a late answer pending, want 1", got, how)
	}
	time.Sleep(wait)
	synctest.Wait()
	if got := rb.c.Stats().Open; got != 0 {
		t.Errorf("%d captures open after the late answer, want 0", got)
	}
	frames := oneCapture(t, dir, session)
	if f := lastBackendAnswer(t, frames); !strings.Contains(string(f.Msg), `"result"`) {
		t.Errorf("late answer captured as %s, want the success", f.Msg)
	}
	replayFull(t, dir, session)
}

// replayFull replays session's capture in full mode (the replay plays the
// host with the captured backend answers and latencies) on a fresh bridge
// and fails unless everything matched but the ignored JSON paths.
func replayFull(t *testing.T, dir, session string, ignore ...string) {
	t.Helper()
	_, mine := sessionFiles(t, dir, session)
	caps, err := replay.Load(mine...)
	if err != nil || len(caps) != 1 {
		t.Fatalf("replay.Load: %v", err)
	}
	srv, err := bridge.New(bridge.Config{HostBackend: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, hc := testutil.ServePipe(t, srv.Handler())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	rep, err := replay.Run(context.Background(), caps[0], &replay.Options{URL: "ws://" + ln.Addr().String() + protocol.PathWidget,
		HTTPClient: hc, Mode: replay.ModeFull, Rules: replay.Rules{LatencyTolerance: 100 * time.Millisecond, Ignore: ignore}})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !rep.OK() {
		var b strings.Builder
		(&replay.Report{Sessions: []*replay.SessionReport{rep}}).WriteText(&b)
		t.Errorf("replay of the capture diverged:\n%s", b.String())
	}
}

// TestRouterLateAnswerAfterExpiry: the widget leaves, the session expires
// at the end of its resume window, then the create's late success comes:
// it is appended to the session's file, which is closed then.
func TestRouterLateAnswerAfterExpiry(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		rb := startRoutedBridge(t, dir, time.Second)
		w, h := timedOutCreate(t, rb)
		w.Close("done") // at 10 s; expires at 11 s; the answer comes at 12 s
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if rb.srv.Session(h.Session) != nil {
			t.Fatal("the session has not expired")
		}
		wantLateAnswerCaptured(t, rb, dir, h.Session, "expired", time.Second)
	})
}

// TestRouterResumeOnNewSocket: a widget that resumes its session on a new
// socket within the resume window continues the session's one file.
func TestRouterResumeOnNewSocket(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		rb := startRoutedBridge(t, dir, time.Minute)
		w1 := testutil.DialRaw(t, rb.url, rb.hc)
		h, _ := helloCreate(t, w1, "", "")
		w1.Close("moving")
		synctest.Wait()
		w2 := testutil.DialRaw(t, rb.url, rb.hc)
		h2, a := helloCreate(t, w2, h.Session, h.ResumeToken)
		if !h2.Resumed || h2.Session != h.Session {
			t.Fatalf("resume: %+v", h2)
		}
		if a.Error != nil {
			t.Fatalf("create after resume: %s", a.Raw)
		}
		time.Sleep(3 * time.Second) // the first create's late answer
		go drain(w2)
		rb.shutdown(t)
		frames := oneCapture(t, dir, h.Session)
		var hellos, creates int
		for _, f := range frames {
			if f.Peer != protocol.CapturePeerWidget || f.Dir != protocol.CaptureDirIn {
				continue
			}
			switch s := string(f.Msg); {
			case strings.Contains(s, protocol.MethodHello):
				hellos++
			case strings.Contains(s, "cif.createrecord"):
				creates++
			}
		}
		if hellos != 2 || creates != 2 {
			t.Errorf("the session's file holds %d hello and %d create requests, want 2 and 2 (both sockets)", hellos, creates)
		}
		if all, _ := sessionFiles(t, dir, h.Session); len(all) != 1 {
			t.Errorf("capture files %v, want only the session's", all)
		}
		// The replay sends every widget frame on one socket, so the second
		// hello names the session it already has: not a resume.
		replayFull(t, dir, h.Session, "result.resumed")
	})
}

// pendingSet is a RouterConfig.Pending the test sets.
type pendingSet struct {
	mu  sync.Mutex
	ids map[string][]string
}

func (p *pendingSet) set(session string, ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids[session] = ids
}

func (p *pendingSet) get(session string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ids[session]
}

func newTestRouter(t *testing.T, dir string, log *testutil.Buffer) (*capture.Capturer, *capture.Router, *pendingSet) {
	t.Helper()
	c, err := capture.New(capture.Config{Dir: dir, SyncInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	p := &pendingSet{ids: map[string][]string{}}
	r := capture.NewRouter(c, capture.RouterConfig{Pending: p.get, Recheck: time.Minute, Logger: zerolog.New(log)})
	t.Cleanup(func() {
		r.Close()
		c.Close()
	})
	return c, r, p
}

func backendOut(id string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":"` + id + `","method":"createrecord","params":{}}`)
}

func backendIn(id string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":"` + id + `","result":{"id":"` + id + `"}}`)
}

// backendIDs lists the ids of the backend frames in file, as "out:a1", "in:a1".
func backendIDs(t *testing.T, file string) []string {
	t.Helper()
	_, frames, err := protocol.ReadCaptureFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range frames {
		if f.Peer == protocol.CapturePeerBackend {
			var m struct {
				ID string `json:"id"`
			}
			json.Unmarshal(f.Msg, &m)
			out = append(out, f.Dir+":"+m.ID)
		}
	}
	return out
}

// TestRouterNewSessionOfEndedID: a session ends with attempt a1 pending and
// a new session of the same id starts (it expired and the widget came back
// with its id): the new one gets a file of its own, as the package doc
// says, and a1's answer still goes to the old one, after its request.
func TestRouterNewSessionOfEndedID(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		c, r, p := newTestRouter(t, dir, &testutil.Buffer{})
		r.Frame("s1", protocol.CapturePeerWidget, protocol.CaptureDirIn, []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord"}`))
		r.Frame("s1", protocol.CapturePeerBackend, protocol.CaptureDirOut, backendOut("a1"))
		p.set("s1", "a1")
		r.End("s1")
		p.set("s1")
		time.Sleep(time.Second) // another second: another file name
		r.Frame("s1", protocol.CapturePeerWidget, protocol.CaptureDirIn, []byte(`{"jsonrpc":"2.0","id":2,"method":"cif.createrecord"}`))
		r.Frame("s1", protocol.CapturePeerBackend, protocol.CaptureDirOut, backendOut("a2"))
		r.Frame("s1", protocol.CapturePeerBackend, protocol.CaptureDirIn, backendIn("a1"))
		r.Frame("s1", protocol.CapturePeerBackend, protocol.CaptureDirIn, backendIn("a2"))
		if got := c.Stats().Open; got != 1 {
			t.Errorf("%d captures open, want 1 (the old one closed with a1's answer)", got)
		}
		r.End("s1")
		files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
		if len(files) != 2 {
			t.Fatalf("files %v, want the old and the new session's", files)
		}
		if got := strings.Join(backendIDs(t, files[0]), " "); got != "out:a1 in:a1" {
			t.Errorf("old session's backend frames: %s", got)
		}
		if got := strings.Join(backendIDs(t, files[1]), " "); got != "out:a2 in:a2" {
			t.Errorf("new session's backend frames: %s", got)
		}
	})
}

// TestRouterRecheck: an ended session's attempt that leaves the bridge
// without a frame (Pending no longer lists it) does not keep its file open
// past the next recheck; Close closes what is still kept.
func TestRouterRecheck(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		var log testutil.Buffer
		c, r, p := newTestRouter(t, dir, &log)
		for _, s := range []string{"s1", "s2"} {
			r.Frame(s, protocol.CapturePeerBackend, protocol.CaptureDirOut, backendOut(s+"-a"))
			p.set(s, s+"-a")
			r.End(s)
		}
		p.set("s1")
		checkTimeline(t, "captures open", func() int64 { return int64(c.Stats().Open) },
			step{time.Minute - time.Nanosecond, 2, "before the recheck"},
			step{time.Nanosecond, 1, "after the recheck (s2 still waits)"},
			step{10 * time.Minute, 1, "while s2 stays pending (rechecks go on)"})
		r.Close()
		if got := c.Stats().Open; got != 0 {
			t.Errorf("%d captures open after Router.Close, want 0", got)
		}
		if !strings.Contains(log.String(), `"attempts":1`) {
			t.Errorf("Close did not log the outstanding late answer: %q", log.String())
		}
		r.Frame("s2", protocol.CapturePeerBackend, protocol.CaptureDirIn, backendIn("s2-a"))
		if files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl")); len(files) != 2 {
			t.Errorf("files %v after a frame past Close, want s1's and s2's only", files)
		}
	})
}

// TestRouterConcurrentSessions ends many sessions, each followed by its
// late answer, while the other sessions' frames pass (run it with -race):
// each session still has one file with its backend request before its
// answer, and every file is closed once its answer is in.
func TestRouterConcurrentSessions(t *testing.T) {
	dir := t.TempDir()
	c, r, p := newTestRouter(t, dir, &testutil.Buffer{})
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		s := fmt.Sprintf("s%02d", i)
		wg.Go(func() {
			r.Frame(s, protocol.CapturePeerWidget, protocol.CaptureDirIn, []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord"}`))
			r.Frame(s, protocol.CapturePeerBackend, protocol.CaptureDirOut, backendOut(s+"-a"))
			p.set(s, s+"-a")
			r.End(s)
			r.Frame(s, protocol.CapturePeerBackend, protocol.CaptureDirIn, backendIn(s+"-a"))
			p.set(s) // the table forgets an attempt after its answer's frame
		})
	}
	wg.Wait()
	if got := c.Stats(); got.Open != 0 || got.Dropped != 0 {
		t.Errorf("stats %+v, want nothing open or dropped", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != n {
		t.Fatalf("%d files, want %d: %v", len(files), n, files)
	}
	for _, f := range files {
		id := strings.SplitN(filepath.Base(f), "-", 2)[0] + "-a"
		if got := strings.Join(backendIDs(t, f), " "); got != "out:"+id+" in:"+id {
			t.Errorf("%s: backend frames %s", f, got)
		}
	}
}
