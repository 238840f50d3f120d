package testutil_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestMain fails the package if any goroutine outlives its tests (no
// function is ignored).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBufferConcurrentWrites(t *testing.T) {
	var b testutil.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if n := len(b.String()); n != 8*len("line 0\n") {
		t.Fatalf("%d bytes written, want %d", n, 8*len("line 0\n"))
	}
}

func TestNoSecrets(t *testing.T) {
	inner := &testing.T{}
	testutil.NoSecrets(inner, "the log", "token tok-1 leaked", "tok-1")
	if !inner.Failed() {
		t.Fatal("a secret in the text was not reported")
	}
	clean := &testing.T{}
	testutil.NoSecrets(clean, "the log", "nothing here", "tok-1", "")
	if clean.Failed() {
		t.Fatal("a clean text was reported")
	}
}

func TestSortedKeys(t *testing.T) {
	if got := testutil.SortedKeys(map[string]any{"b": 1, "a": 2}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("got %v", got)
	}
}

// TestMustJSON: a value marshals; nil is no JSON at all.
func TestMustJSON(t *testing.T) {
	if got := string(testutil.MustJSON(t, map[string]any{"a": 1})); got != `{"a":1}` {
		t.Fatalf("got %s", got)
	}
	if got := testutil.MustJSON(t, nil); got != nil {
		t.Fatalf("nil gave %q", got)
	}
}

// TestWantCode: the error with the code is returned as a *protocol.Error.
func TestWantCode(t *testing.T) {
	pe := testutil.WantCode(t, protocol.InvalidParams("bad %s", "x"), protocol.CodeInvalidParams)
	if !strings.Contains(pe.Message, "bad x") {
		t.Fatalf("returned %+v", pe)
	}
}

// wsHandler accepts a WebSocket and runs peer on it until it returns.
func wsHandler(peer func(ctx context.Context, c *websocket.Conn)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		peer(r.Context(), c)
	})
}

// echo answers the first message with itself.
func echo(ctx context.Context, c *websocket.Conn) {
	if typ, b, err := c.Read(ctx); err == nil {
		c.Write(ctx, typ, b)
	}
}

// shutdownServer is an echo handler that records its shutdown.
type shutdownServer struct{ shut chan struct{} }

func (s *shutdownServer) Handler() http.Handler { return wsHandler(echo) }

func (s *shutdownServer) Shutdown(context.Context) error {
	close(s.shut)
	return nil
}

// TestServeBridge: the URL ServeBridge returns reaches the server over
// WebSocket (DialRaw), and the server is shut down when the test ends.
func TestServeBridge(t *testing.T) {
	srv := &shutdownServer{shut: make(chan struct{})}
	t.Run("serve", func(t *testing.T) {
		url := testutil.ServeBridge(t, srv)
		if !strings.HasPrefix(url, "ws://127.0.0.1:") {
			t.Fatalf("url %q", url)
		}
		c := testutil.DialRaw(t, url, nil)
		if err := c.Write(context.Background(), []byte("x")); err != nil {
			t.Fatal(err)
		}
		if b, err := c.Read(context.Background()); err != nil || string(b) != "x" {
			t.Fatalf("echo %q %v", b, err)
		}
	})
	select {
	case <-srv.shut:
	default:
		t.Fatal("the server was not shut down when the test ended")
	}
}

// TestRawCall: RawCall passes over a notification and another answer and
// returns the answer with its id; a peer that goes away is an error.
func TestRawCall(t *testing.T) {
	srv := httptest.NewServer(wsHandler(func(ctx context.Context, c *websocket.Conn) {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"bridge.late","params":{}}`))
		c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":6,"result":"other"}`))
		c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":7,"result":"mine"}`))
		c.Read(ctx) // the second call: go away without answering
	}))
	t.Cleanup(srv.Close)
	c := testutil.DialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := testutil.RawCall(ctx, c, json.RawMessage("7"), "cif.getmode", nil)
	if err != nil || string(a.Result) != `"mine"` || a.Error != nil || !strings.Contains(string(a.Raw), `"id":7`) {
		t.Fatalf("answer %+v %v", a, err)
	}
	if _, err := testutil.RawCall(ctx, c, json.RawMessage("8"), "cif.getmode", nil); err == nil || !strings.HasPrefix(err.Error(), "read: ") {
		t.Fatalf("peer gone: %v", err)
	}
}

// TestServePipe: the client ServePipe returns reaches the handler inside a
// bubble, and nothing of the server outlives the test (synctest.Test fails
// on a goroutine left behind).
func TestServePipe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln, hc := testutil.ServePipe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.Host) }))
		res, err := hc.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "ok "+ln.Addr().String() {
			t.Fatalf("body %q", b)
		}
	})
}
