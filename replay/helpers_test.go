package replay_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/capture"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/replay"
)

// recorder captures an embedded bridge the way serve --capture-dir does
// (widget and backend frames, per session, header from the session).
type recorder struct {
	c   *capture.Capturer
	srv func() *bridge.Server

	mu       sync.Mutex
	sessions map[string]*capture.Session
}

func newRecorder(t *testing.T, dir string) *recorder {
	t.Helper()
	c, err := capture.New(capture.Config{Dir: dir, Version: "golden", SyncInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &recorder{c: c, sessions: map[string]*capture.Session{}}
}

func (r *recorder) configure(cfg *bridge.Config) {
	cfg.OnFrame = func(session, peer, dir string, msg []byte) {
		if session == "" || peer == protocol.CapturePeerHost {
			return
		}
		r.mu.Lock()
		s, ok := r.sessions[session]
		if !ok {
			prof, timeout := cfg.Profile, cfg.Timeout
			if srv := r.srv(); srv != nil {
				if x := srv.Session(session); x != nil {
					prof, timeout = x.Profile()
				}
			}
			s = r.c.Open(session, prof, timeout.Milliseconds())
			r.sessions[session] = s
		}
		r.mu.Unlock()
		s.Frame(peer, dir, msg)
	}
}

// close flushes and returns the capture file of the only session.
func (r *recorder) close(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sessions) != 1 {
		t.Fatalf("captured %d sessions, want 1", len(r.sessions))
	}
	var path string
	for _, s := range r.sessions {
		path = s.Path()
		s.Close()
	}
	return path
}

// startRecorded starts an embedded bridge recorded into dir, with the retry
// engine and a ledger when withLedger.
func startRecorded(t *testing.T, h protocol.CaptureHeader, mode, dir string, withLedger bool) (*embedded, *recorder) {
	t.Helper()
	rec := newRecorder(t, dir)
	var e *embedded
	var err error
	rec.srv = func() *bridge.Server {
		if e == nil {
			return nil
		}
		return e.Server
	}
	e, err = startEmbedded(h, mode, &embeddedOptions{Configure: rec.configure, Ledger: withLedger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, rec
}

func header(profile string, timeout time.Duration) protocol.CaptureHeader {
	return protocol.CaptureHeader{Profile: profile, TimeoutMs: timeout.Milliseconds()}
}

// ws is a raw WebSocket peer (widget or host) for driving a bridge: raw,
// not client.Conn, because the goldens capture frames as a widget writes
// them (a batch, an invalid member) and a host answering late by hand.
type ws struct {
	t    *testing.T
	c    *client.RawConn
	n    int
	in   chan map[string]json.RawMessage
	done chan struct{}
}

// dialWS connects to e's endpoint path (protocol.PathWidget or PathHost).
func dialWS(t *testing.T, e *embedded, path string) *ws {
	t.Helper()
	url := strings.Replace(e.URL, protocol.PathWidget, path, 1)
	c, err := client.DialRaw(t.Context(), url, &client.Options{HTTPClient: e.HTTPClient})
	if err != nil {
		t.Fatal(err)
	}
	w := &ws{t: t, c: c, in: make(chan map[string]json.RawMessage, 64), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			m := map[string]json.RawMessage{}
			json.Unmarshal(b, &m) // a batch answer stays empty but for rawKey
			m[rawKey] = b
			w.in <- m
		}
	}()
	t.Cleanup(func() { c.CloseNow(); <-w.done })
	return w
}

func (w *ws) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	w.sendRaw(string(b))
}

// rawKey holds a received message's bytes in the maps ws.in delivers.
const rawKey = "\x00raw"

// sendRaw sends text as it is (a batch, invalid JSON).
func (w *ws) sendRaw(text string) {
	w.t.Helper()
	if err := w.c.Write(context.Background(), []byte(text)); err != nil { // RawConn writes are safe concurrently
		w.t.Fatal(err)
	}
}

// recvRaw returns the next message's bytes.
func (w *ws) recvRaw() []byte {
	w.t.Helper()
	return w.recv()[rawKey]
}

// recv returns the next message. The tests run in a synctest bubble, where
// the wait costs nothing: it fails after a minute of the bubble's time, far
// beyond any CIF timeout the scenarios use.
func (w *ws) recv() map[string]json.RawMessage {
	w.t.Helper()
	select {
	case m := <-w.in:
		return m
	case <-time.After(time.Minute):
		w.t.Fatal("nothing received")
		return nil
	}
}

// call sends a request and returns the answer, queueing what else arrives.
func (w *ws) call(method string, params any) map[string]json.RawMessage {
	w.t.Helper()
	w.n++
	id := strconv.Itoa(w.n)
	w.send(map[string]any{"jsonrpc": "2.0", "id": w.n, "method": method, "params": params})
	var other []map[string]json.RawMessage
	defer func() {
		for _, m := range other {
			w.in <- m
		}
	}()
	for {
		m := w.recv()
		if _, isReq := m["method"]; !isReq && string(m["id"]) == id {
			return m
		}
		other = append(other, m)
	}
}

func str(t *testing.T, raw json.RawMessage, path ...string) string {
	t.Helper()
	var v any
	json.Unmarshal(raw, &v)
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func golden(name string) string { return filepath.Join("testdata", name) }

func itoa(n int) string { return strconv.Itoa(n) }

// widgetOrder lists a capture's widget frames in file order as direction
// and what they are ("in cif.createrecord", "out answer to
// cif.createrecord", "out bridge.late", "in event answer", "out batch").
func widgetOrder(c *replay.Capture) []string {
	methods := map[string]string{}
	var out []string
	for _, f := range c.Frames {
		if f.Peer != protocol.CapturePeerWidget {
			continue
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		what := "batch"
		if json.Unmarshal(f.Msg, &m) == nil {
			switch {
			case m.Method != "":
				what = m.Method
				if f.Dir == protocol.CaptureDirIn {
					methods[string(m.ID)] = m.Method
				}
			case f.Dir == protocol.CaptureDirIn:
				what = "event answer"
			default:
				what = "answer to " + methods[string(m.ID)]
			}
		}
		out = append(out, f.Dir+" "+what)
	}
	return out
}

// ledgerEntries lists an embedded bridge's ledger, oldest first.
func ledgerEntries(t *testing.T, e *embedded) []protocol.LedgerEntry {
	t.Helper()
	if e.Ledger == nil {
		t.Fatal("the embedded bridge has no ledger")
	}
	l, err := e.Ledger.List(context.Background(), ledger.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(l)
	return l
}

// replayRecorded replays c (opts.URL is filled in) on a fresh embedded bridge
// recorded like the goldens, fails unless everything matched, and returns
// the report, the bridge and the replay's own capture.
func replayRecorded(t *testing.T, c *replay.Capture, opts replay.Options, withLedger bool) (*replay.SessionReport, *embedded, *replay.Capture) {
	t.Helper()
	e, rec := startRecorded(t, c.Header, opts.Mode, t.TempDir(), withLedger)
	opts.URL, opts.HTTPClient = e.URL, e.HTTPClient
	opts.Rules.LatencyTolerance = 100 * time.Millisecond
	rep, err := replay.Run(context.Background(), c, &opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("replay diverged:\n%s", text(rep))
	}
	again, err := replay.Load(rec.close(t))
	if err != nil {
		t.Fatal(err)
	}
	return rep, e, again[0]
}
