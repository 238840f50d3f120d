package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// countingBackend holds every call until release and counts them.
type countingBackend struct {
	release chan struct{}
	started atomic.Int64
}

func (b *countingBackend) backend() backend.Backend {
	return backend.Func{N: "counting", F: func(ctx context.Context, call *correlation.Attempt) (json.RawMessage, error) {
		b.started.Add(1)
		select {
		case <-b.release:
			return json.RawMessage(`{"entityType":"contact","id":"x"}`), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
}

func notificationBatch(n int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"jsonrpc":"2.0","method":"cif.createrecord","params":{"entityName":"contact","value":{}}}`)
	}
	b.WriteString(`,{"jsonrpc":"2.0","id":"probe","method":"cif.getmode"}]`)
	return b.String()
}

// TestNotificationsAdmittedLikeCalls: a batch of 10 000 notifications puts
// exactly --max-inflight of them in flight, the same every run; the rest
// are refused (and counted), and a call beside them is answered -32003.
func TestNotificationsAdmittedLikeCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for run := range 3 {
			cb := &countingBackend{release: make(chan struct{})}
			tb := startBridgeInBubble(t, bridge.Config{Backend: cb.backend(), MaxInFlight: 64, MaxMessageBytes: 8 << 20})
			c := tb.dial(t, protocol.PathWidget, nil)
			c.send(notificationBatch(10_000))
			waitFor(t, func() bool { return cb.started.Load() == 64 })
			if n := tb.srv.Table().Stats().InFlight; n != 64 {
				t.Fatalf("run %d: %d attempts in flight, want exactly 64", run, n)
			}
			if got := metric(t, tb, `cifbridge_refused_total{reason="inflight"}`); got != "9937" {
				t.Fatalf("run %d: refused %s, want 9937 (9 936 notifications and the probe)", run, got)
			}
			close(cb.release)
			// The batch is answered once its admitted items are done.
			if r := c.recv(); r != `[{"jsonrpc":"2.0","id":"probe","error":{"code":-32003,"message":"overloaded: this session already has 64 calls in flight (--max-inflight); retry later","data":{"limit":"inflight"}}}]` {
				t.Fatalf("run %d: batch answered %s", run, r)
			}
			if n := cb.started.Load(); n != 64 {
				t.Fatalf("run %d: %d notifications ran, want 64", run, n)
			}
		}
	})
}

// TestDrainRefusesNotifications: once draining, a notification does not run.
func TestDrainRefusesNotifications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cb := &countingBackend{release: make(chan struct{})}
		tb := startBridgeInBubble(t, bridge.Config{Backend: cb.backend(), DrainTimeout: 2 * time.Second})
		c := tb.dial(t, protocol.PathWidget, nil)
		c.send(`{"jsonrpc":"2.0","id":"held","method":"cif.getmode"}`)
		waitFor(t, func() bool { return cb.started.Load() == 1 })
		drained := make(chan struct{})
		go func() { tb.srv.Shutdown(context.Background()); close(drained) }()
		t.Cleanup(func() { close(cb.release); <-drained })
		waitFor(t, func() bool { return !tb.srv.Ready() })
		c.send(`[{"jsonrpc":"2.0","method":"cif.createrecord","params":{"entityName":"contact","value":{}}},{"jsonrpc":"2.0","id":"p","method":"cif.getmode"}]`)
		if r := c.recv(); !strings.Contains(r, `"code":-32007`) {
			t.Fatalf("call while draining: %s", r)
		}
		if n := cb.started.Load(); n != 1 {
			t.Fatalf("%d backend calls, want only the held one (the notification ran while draining)", n)
		}
	})
}

// TestInFlightLimit: past the session's --max-inflight, calls get -32003
// saying what to change; the held calls are answered once released.
func TestInFlightLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		tb := startBridgeInBubble(t, bridge.Config{Backend: blockingBackend(release), MaxInFlight: 2})
		c := tb.dial(t, protocol.PathWidget, nil)
		c.send(`{"jsonrpc":"2.0","id":1,"method":"cif.getmode"}`)
		c.send(`{"jsonrpc":"2.0","id":2,"method":"cif.getmode"}`)
		waitFor(t, func() bool { return tb.srv.Table().Stats().InFlight == 2 })
		r := c.call(protocol.MethodGetMode, nil)
		wantCode(t, r, protocol.CodeOverloaded)
		if !strings.Contains(r.Error.Message, "--max-inflight") {
			t.Errorf("message %q does not say what to change", r.Error.Message)
		}
		close(release)
		got := map[string]bool{}
		for range 2 {
			got[string(c.recvReply().ID)] = true
		}
		if !got["1"] || !got["2"] {
			t.Fatalf("held calls answered: %v", got)
		}
		okResult(t, c.call(protocol.MethodGetMode, nil), nil)
	})
}

// TestCallRateLimit: past the session's rate, calls get -32003 with
// data.retryAfterMs; notifications count too.
func TestCallRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One call per 20 s after a burst of 3: no token comes back while the
		// test runs, however slow the machine.
		tb := startBridgeInBubble(t, bridge.Config{MaxCallRate: 0.05, CallBurst: 3})
		c := tb.dial(t, protocol.PathWidget, nil)
		c.send(`{"jsonrpc":"2.0","method":"cif.getmode"}`)
		okResult(t, c.call(protocol.MethodGetMode, nil), nil)
		okResult(t, c.call(protocol.MethodGetMode, nil), nil)
		r := c.call(protocol.MethodGetMode, nil)
		wantCode(t, r, protocol.CodeOverloaded)
		var d protocol.OverloadedData
		if err := json.Unmarshal(r.Error.Data, &d); err != nil || d.Limit != protocol.LimitRate || d.RetryAfterMs < 1 || d.RetryAfterMs > 20_000 {
			t.Fatalf("data %s: want limit rate and 1..20000 ms", r.Error.Data)
		}
		if !strings.Contains(r.Error.Message, "--max-call-rate") {
			t.Errorf("message %q does not name the flag", r.Error.Message)
		}
		// Another session has its own budget.
		okResult(t, tb.dial(t, protocol.PathWidget, nil).call(protocol.MethodGetMode, nil), nil)
	})
}

// TestConnectionCaps: past the per-IP and the global cap a WebSocket is
// refused with HTTP 503 and the JSON error shape, before the upgrade, on a
// connection the bridge then closes; a closed connection gives its slot
// back.
func TestConnectionCaps(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  bridge.Config
		flag string
	}{
		{"per IP", bridge.Config{MaxConnsPerIP: 2}, "--max-conns-per-ip"},
		{"global", bridge.Config{MaxConns: 2}, "--max-conns"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tb := startBridgeInBubble(t, tt.cfg)
				c1 := tb.dial(t, protocol.PathWidget, nil)
				tb.dial(t, protocol.PathHost, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, resp, err := websocket.Dial(ctx, tb.wsURL(protocol.PathWidget), &websocket.DialOptions{HTTPClient: tb.hc})
				if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("third connection: %v %v, want HTTP 503", err, resp)
				}
				if !resp.Close {
					t.Error("the refused connection is kept alive: it holds a file descriptor the cap is there to keep free")
				}
				body, _ := io.ReadAll(resp.Body)
				var e struct{ Error protocol.Error }
				if json.Unmarshal(body, &e) != nil || e.Error.Code != protocol.CodeOverloaded || !strings.Contains(e.Error.Message, tt.flag) {
					t.Fatalf("body %s: want the JSON error naming %s", body, tt.flag)
				}
				c1.ws.Close(websocket.StatusNormalClosure, "")
				waitFor(t, func() bool {
					ws, _, err := websocket.Dial(ctx, tb.wsURL(protocol.PathWidget), &websocket.DialOptions{HTTPClient: tb.hc})
					if err == nil {
						ws.CloseNow()
					}
					return err == nil
				})
			})
		})
	}
}

// TestMethodLabelsBounded: invented method names are all counted as
// "other"; /metrics does not grow with them.
func TestMethodLabelsBounded(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	okResult(t, c.call(protocol.MethodGetMode, nil), nil)
	before := len(metricsText(t, tb))
	for i := range 100 {
		c.call(fmt.Sprintf("cif.invented%d", i), nil)
		c.call(fmt.Sprintf("enreach.invented%d", i), nil)
	}
	text := metricsText(t, tb)
	if strings.Contains(text, "invented") {
		t.Fatal("an invented method became a label")
	}
	if !strings.Contains(text, `cifbridge_requests_total{method="other",outcome="-32601"} 100`) {
		t.Error(`invented cif.* methods not counted under method="other"`)
	}
	if grown := len(text) - before; grown > 4096 {
		t.Errorf("/metrics grew by %d bytes for 200 invented methods", grown)
	}
	if !strings.Contains(text, `method="cif.getmode"`) {
		t.Error("a known method lost its label")
	}
}

// TestClientLogsBounded: a 900 KB client string is cut in the hello log
// line; 1 000 answers to nothing log one line with a count, not 1 000.
func TestClientLogsBounded(t *testing.T) {
	var logs testutil.Buffer
	tb := startBridge(t, bridge.Config{Logger: zerolog.New(&logs)})
	c := tb.dial(t, protocol.PathWidget, nil)
	okResult(t, c.call(protocol.MethodHello, map[string]any{"client": strings.Repeat("c", 900_000)}), nil)
	for i := range 1000 {
		c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":"stray%d","result":null}`, i))
	}
	okResult(t, c.call(protocol.MethodGetMode, nil), nil) // the strays were read before this
	text := logs.String()
	if len(text) > 16<<10 {
		t.Fatalf("%d bytes of logs for one hello and 1 000 stray answers", len(text))
	}
	if n := strings.Count(text, "no longer pending"); n != 1 {
		t.Fatalf("%d lines about stray answers, want 1 (sampled)", n)
	}
}

// TestPipelinedGetmodeAllAnswered: a client that reads while it pipelines
// 1 000 cif.getmode calls gets 1 000 answers and stays connected (a
// 256-message queue closed it 1008 "not reading" after ~600). The writer
// is held (through the capture hook) until the backend has answered every
// call, so the answers really pile up.
func TestPipelinedGetmodeAllAnswered(t *testing.T) {
	const n = 1000
	var served atomic.Int64
	allServed := make(chan struct{})
	var hold sync.Once
	tb := startBridge(t, bridge.Config{MaxInFlight: n, OnFrame: func(_, peer, dir string, _ []byte) {
		switch {
		case peer == "backend" && dir == "in":
			if served.Add(1) == n {
				close(allServed)
			}
		case peer == "widget" && dir == "out":
			hold.Do(func() { <-allServed })
		}
	}})
	c := tb.dial(t, protocol.PathWidget, nil)
	got := make(chan int, 1)
	go func() {
		ok := 0
		for range n {
			_, b, err := c.ws.Read(context.Background())
			if err != nil {
				break
			}
			if strings.Contains(string(b), `"result":`) {
				ok++
			}
		}
		got <- ok
	}()
	var batch strings.Builder
	for i := range n {
		batch.Reset()
		fmt.Fprintf(&batch, `{"jsonrpc":"2.0","id":%d,"method":"cif.getmode"}`, i)
		c.send(batch.String())
	}
	if ok := <-got; ok != n {
		t.Fatalf("%d of %d pipelined calls answered with a result", ok, n)
	}
	okResult(t, c.call(protocol.MethodGetMode, nil), nil)
}

// TestRefusalLogsBounded: requests a client can repeat at will (a bad
// token, a foreign Host, a cross-site admin change) log one line per reason
// per interval, not one line each.
func TestRefusalLogsBounded(t *testing.T) {
	var logs testutil.Buffer
	tb := startBridge(t, bridge.Config{Logger: zerolog.New(&logs), Tokens: bridge.Tokens{Admin: "sekret"}})
	for range 200 {
		for _, r := range []*http.Request{
			mustRequest(t, "GET", tb.url+"/api/v1/status?access_token=wrong", "", nil),
			mustRequest(t, "GET", tb.url+"/livez", "rebind.example", nil),
			mustRequest(t, "POST", tb.url+"/api/v1/emulator/reset?access_token=sekret", "", map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json"}),
		} {
			res, err := tb.hc.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode < 400 {
				t.Fatalf("%s %s: %d, want a refusal", r.Method, r.URL.Path[:min(len(r.URL.Path), 30)], res.StatusCode)
			}
		}
	}
	text := logs.String()
	for _, reason := range []string{`"refusal":"token_admin"`, `"refusal":"host"`, `"refusal":"cross_site"`} {
		if n := strings.Count(text, reason); n != 1 {
			t.Errorf("%d log lines for %s, want 1 (sampled)", n, reason)
		}
	}
	if len(text) > 16<<10 {
		t.Errorf("%d bytes of logs for 600 refusals", len(text))
	}
}

func mustRequest(t *testing.T, method, url, host string, header map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		r.Host = host
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}
