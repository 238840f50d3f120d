package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/sourcegraph/jsonrpc2"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/internal/pipenet"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// testBridge is a real bridge served over HTTP: on a loopback httptest
// server (startBridge), or on in-memory pipes inside a testing/synctest
// bubble (startBridgeInBubble), where CIF timeouts pass instantly and
// exactly and synctest.Wait replaces polling.
type testBridge struct {
	srv *bridge.Server
	emu *emulator.Emulator
	url string       // http://127.0.0.1:PORT (pipenet's fixed address in a bubble)
	hc  *http.Client // dials url
	ln  *pipenet.Listener
}

// startBridge serves a bridge with cfg (the emulator when cfg has no
// backend) on loopback until the test ends.
func startBridge(t *testing.T, cfg bridge.Config) *testBridge {
	t.Helper()
	tb := newTestBridge(t, cfg)
	hs := httptest.NewServer(tb.srv.Handler())
	tb.url, tb.hc = hs.URL, hs.Client()
	t.Cleanup(func() {
		tb.shutdown()
		hs.Close()
	})
	return tb
}

// startBridgeInBubble serves a bridge with cfg on an in-memory listener;
// call it inside the synctest bubble that uses it.
func startBridgeInBubble(t *testing.T, cfg bridge.Config) *testBridge {
	t.Helper()
	tb := newTestBridge(t, cfg)
	tb.ln, tb.hc = testutil.ServePipe(t, tb.srv.Handler())
	tb.url = "http://" + tb.ln.Addr().String()
	t.Cleanup(tb.shutdown) // before ServePipe's cleanup closes the server
	return tb
}

// inBubble runs a bridge on the emulator (with faults) inside the bubble and
// returns a connected widget socket.
func inBubble(t *testing.T, faults *protocol.FaultProfile) (*emulator.Emulator, *wsClient) {
	emu := newEmulator(t, faults)
	_, ws, _ := serveInBubble(t, bridge.Config{Backend: emu})
	return emu, ws
}

// serveInBubble runs a bridge with cfg inside the caller's synctest bubble
// (startBridgeInBubble) and returns it with a widget socket dialled to it
// and the listener (for more, or raw, connections).
func serveInBubble(t *testing.T, cfg bridge.Config) (*bridge.Server, *wsClient, *pipenet.Listener) {
	tb := startBridgeInBubble(t, cfg)
	return tb.srv, tb.dial(t, protocol.PathWidget, nil), tb.ln
}

func newTestBridge(t *testing.T, cfg bridge.Config) *testBridge {
	t.Helper()
	tb := &testBridge{}
	if cfg.Backend == nil && !cfg.HostBackend {
		emu := newEmulator(t, nil)
		tb.emu = emu
		cfg.Backend = emu
		if cfg.Extra == nil {
			cfg.Extra = map[string]http.Handler{}
		}
		cfg.Extra["/api/v1/emulator/"], cfg.Extra["/api/data/v9.2/"] = emu.AdminHandler(), emu.WebAPIHandler()
	}
	srv, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tb.srv = srv
	return tb
}

// newEmulator is an emulator backend with faults (nil: none).
func newEmulator(t testing.TB, faults *protocol.FaultProfile) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.New(emulator.Config{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	return emu
}

// blockingBackend answers only when released (or its ctx ends).
func blockingBackend(release <-chan struct{}) backend.Backend {
	return backend.Func{N: "blocking", F: func(ctx context.Context, call *correlation.Attempt) (json.RawMessage, error) {
		select {
		case <-release:
			return json.RawMessage(`{"entityType":"contact","id":"x"}`), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
}

func (tb *testBridge) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tb.srv.Shutdown(ctx)
}

func (tb *testBridge) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(tb.url, "http") + path
}

// dial opens a raw WebSocket to the bridge's path (opts may be nil).
func (tb *testBridge) dial(t *testing.T, path string, opts *websocket.DialOptions) *wsClient {
	t.Helper()
	o := websocket.DialOptions{}
	if opts != nil {
		o = *opts
	}
	o.HTTPClient = tb.hc
	c := dial(t, tb.wsURL(path), &o)
	if tb.ln != nil { // in a bubble
		c.readWait = 0
	}
	return c
}

// dialHost connects a host peer on the Go client (handler answers the
// bridge's calls; token may be "") and says host.hello for sessions under
// name; the connection closes when the test ends.
func (tb *testBridge) dialHost(t *testing.T, handler jsonrpc2.Handler, token string, sessions any, name string) *jsonrpc2.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.DialHost(ctx, tb.wsURL(protocol.PathHost), handler, &client.Options{Token: token, HTTPClient: tb.hc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Call(ctx, protocol.MethodHostHello, map[string]any{"sessions": sessions, "name": name}, nil); err != nil {
		t.Fatalf("host.hello: %v", err)
	}
	return conn
}

// waitFor lets the bubble settle (every goroutine of the bridge and of
// the test blocked) and fails the test unless cond holds then. It replaces
// polling: call it inside a synctest bubble.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	synctest.Wait()
	if !cond() {
		t.Fatal("condition not reached once the bubble settled")
	}
}

// wsClient speaks raw text frames, so the tests see exactly what the bridge sends.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
	// readWait bounds one read; 0 in a synctest bubble, where an answer
	// may be due after more fake time than any bound and one that never
	// comes is a deadlock synctest reports.
	readWait time.Duration
}

func dial(t *testing.T, url string, opts *websocket.DialOptions) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(8 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return &wsClient{t: t, ws: ws, readWait: 10 * time.Second}
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one message within readWait.
func (c *wsClient) read() ([]byte, error) {
	ctx := context.Background()
	if c.readWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.readWait)
		defer cancel()
	}
	_, b, err := c.ws.Read(ctx)
	return b, err
}

func (c *wsClient) recv() string {
	c.t.Helper()
	b, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return string(b)
}

// closed reads the next frame and fails unless it is the bridge closing
// the socket with code; it returns the close frame (for its reason).
func (c *wsClient) closed(code websocket.StatusCode) websocket.CloseError {
	c.t.Helper()
	_, err := c.read()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		c.t.Fatalf("socket ended with %v, want close %d", err, code)
	}
	return ce
}

// reply is a decoded response or request from the bridge.
type reply = testutil.Answer

func (c *wsClient) recvReply() reply {
	c.t.Helper()
	raw := c.recv()
	var r reply
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		c.t.Fatalf("bad reply %s: %v", raw, err)
	}
	return r
}

var callSeq int

// call sends a request and returns its reply, skipping notifications.
func (c *wsClient) call(method string, params any) reply {
	c.t.Helper()
	callSeq++
	id := json.RawMessage(strings.TrimSpace(string(testutil.MustJSON(c.t, callSeq))))
	c.send(string(protocol.AppendRequest(nil, id, method, testutil.MustJSON(c.t, params))))
	for {
		r := c.recvReply()
		if r.Method == "" && string(r.ID) == string(id) {
			return r
		}
	}
}

func okResult(t *testing.T, r reply, v any) {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("unexpected error %+v", r.Error)
	}
	if v != nil {
		if err := json.Unmarshal(r.Result, v); err != nil {
			t.Fatalf("result %s: %v", r.Result, err)
		}
	}
}

func wantCode(t *testing.T, r reply, code int64) {
	t.Helper()
	if r.Error == nil || r.Error.Code != code {
		t.Fatalf("got %+v (result %s), want error code %d", r.Error, r.Result, code)
	}
}

// itoa is i in decimal, for frames built by hand.
func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// httpJSON sends a request with body as JSON (nil: none) and decodes the
// answer into out (when not nil); it returns the HTTP status.
func (tb *testBridge) httpJSON(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(testutil.MustJSON(t, body))
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, tb.url+path, rd)
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json") // the bridge's cross-site guard
	}
	res, err := tb.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return res.StatusCode
}

// metricsText is the bridge's /metrics page.
func metricsText(t *testing.T, tb *testBridge) string {
	t.Helper()
	resp, err := tb.hc.Get(tb.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metric returns the value of one series in /metrics ("" when absent).
func metric(t *testing.T, tb *testBridge, series string) string {
	t.Helper()
	for _, line := range strings.Split(metricsText(t, tb), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// hello says bridge.hello on c for a new session.
func hello(t *testing.T, c *wsClient) protocol.HelloResult {
	t.Helper()
	var h protocol.HelloResult
	okResult(t, c.call(protocol.MethodHello, map[string]any{"client": "test"}), &h)
	return h
}
