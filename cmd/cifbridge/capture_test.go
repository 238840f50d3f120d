package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
	"github.com/coder/websocket"
)

// syncBuffer collects a process's stderr and finds the listen address in it.
type syncBuffer struct {
	mu  sync.Mutex
	b   strings.Builder
	got chan string
}

var servingRE = regexp.MustCompile(`serving on ws://([0-9.:\[\]a-f]+)/v1/widget`)

func newSyncBuffer() *syncBuffer { return &syncBuffer{got: make(chan string, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	if m := servingRE.FindStringSubmatch(s.b.String()); m != nil {
		select {
		case s.got <- m[1]:
		default:
		}
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) addr(t *testing.T) string {
	t.Helper()
	select {
	case a := <-s.got:
		s.got <- a
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon did not start; stderr:\n%s", s.String())
		return ""
	}
}

// widget is a raw WebSocket widget for driving a daemon: raw, not
// client.Conn, because its tests choose the ids, say bridge.hello by hand
// (a profile, a resume with a wrong token), read whole answers and use the
// socket itself (ws) to answer events and to see it close.
type widget struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialWidget(t *testing.T, addr string) *widget {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+protocol.PathWidget, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &widget{t: t, ws: ws}
}

// call sends a request with id and returns the whole answer to it, passing
// over notifications and events.
func (w *widget) call(id int, method, params string) json.RawMessage {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	idj, _ := json.Marshal(id)
	if err := w.ws.Write(ctx, websocket.MessageText, protocol.AppendRequest(nil, idj, method, json.RawMessage(params))); err != nil {
		w.t.Fatalf("%s: %v", method, err)
	}
	for {
		_, b, err := w.ws.Read(ctx)
		if err != nil {
			w.t.Fatalf("%s: %v", method, err)
		}
		var a testutil.Answer
		if json.Unmarshal(b, &a) == nil && a.Method == "" && string(a.ID) == string(idj) {
			return b
		}
	}
}

func captureFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// serveCapturing runs serve in-process with --capture-dir dir and more
// flags, and dials a widget; stop stops serve cleanly (files closed).
func serveCapturing(t *testing.T, dir string, flags ...string) (w *widget, stop func()) {
	t.Helper()
	stderr := newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json", "--capture-dir", dir}, flags...)
	go func() { done <- run(ctx, args, io.Discard, stderr) }()
	t.Cleanup(cancel)
	return dialWidget(t, stderr.addr(t)), func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
	}
}

// TestServeCapture runs serve in-process with --capture-dir, drives a
// session and checks the file after a clean stop (flush + fsync in stop).
func TestServeCapture(t *testing.T) {
	dir := t.TempDir()
	w, stop := serveCapturing(t, dir, "--capture-sessions", "*", "--cif-timeout", "300ms")
	hello := w.call(1, "bridge.hello", `{"profile":"cif2"}`)
	w.call(2, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"Ada"}}`)
	stop()
	files := captureFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("files = %v, want one", files)
	}
	h, frames, err := protocol.ReadCaptureFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var hr struct {
		Result struct{ Session string } `json:"result"`
	}
	json.Unmarshal(hello, &hr)
	if h.Session != hr.Result.Session || h.Profile != protocol.ProfileCIF2 || h.TimeoutMs != 300 {
		t.Errorf("header = %+v, want session %s, cif2 (hello before the header), 300 ms", h, hr.Result.Session)
	}
	var peers []string
	for _, f := range frames {
		peers = append(peers, f.Peer+"/"+f.Dir)
	}
	// In order: the bridge records an out frame before writing it, so an
	// answer is always on file before the request the widget sends next.
	want := "widget/in widget/out widget/in backend/out backend/in widget/out"
	if got := strings.Join(peers, " "); got != want {
		t.Errorf("frames = %s, want %s", got, want)
	}
}

// TestServeCaptureSessions: --capture-sessions patterns pick the sessions
// captured; a session matching none leaves no file.
func TestServeCaptureSessions(t *testing.T) {
	for _, tt := range []struct {
		name, patterns string
		want           int
	}{
		{"no pattern matches", "x-*, incident-*", 0},
		{"one pattern matches", "x-*, s*", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, stop := serveCapturing(t, dir, "--capture-sessions", tt.patterns)
			w.call(1, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"Ada"}}`)
			stop()
			if files := captureFiles(t, dir); len(files) != tt.want {
				t.Fatalf("files = %v, want %d", files, tt.want)
			}
		})
	}
}

// TestServeCaptureRejectsOrphanFlags: capture flags without --capture-dir
// are a usage error.
func TestServeCaptureRejectsOrphanFlags(t *testing.T) {
	refuseServe(t, "--capture-dir", "--capture-sessions", "x")
}

// TestServeCaptureCrash builds the real binary, captures a session, SIGKILLs
// the daemon mid-session and reads the file up to the last complete frame.
func TestServeCaptureCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "cifbridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	stderr := newSyncBuffer()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json", "--capture-dir", dir)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w := dialWidget(t, stderr.addr(t))
	for i := 1; i <= 20; i++ {
		w.call(i, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"n`+strings.Repeat("x", i)+`"}}`)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	files := captureFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("files = %v, want one", files)
	}
	// Every answered call is on disk (frames are flushed to the OS per frame);
	// also simulate a torn last line and check the reader stops before it.
	f, err := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"t":"2025-01-01T00:00:00Z","peer":"widget","dir":"in","msg":{"jsonrpc":"2.0","id":21,"meth`)
	f.Close()
	r, err := protocol.OpenCaptureFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	frames, err := r.Rest()
	if err != nil {
		t.Fatalf("frame %d: %v", len(frames), err)
	}
	if !r.Torn() || len(frames) != 20*4 {
		t.Errorf("read %d frames (torn %v), want 80 complete frames and a torn tail", len(frames), r.Torn())
	}
}
