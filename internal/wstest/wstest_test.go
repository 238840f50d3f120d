package wstest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/internal/wstest"
)

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

// TestDialEcho: the connection Dial returns carries a message both ways.
func TestDialEcho(t *testing.T) {
	srv := httptest.NewServer(wsHandler(echo))
	t.Cleanup(srv.Close)
	c := wstest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	ctx := context.Background()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "ping" {
		t.Fatalf("echo %q %v", b, err)
	}
}

// fatalTB records a Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	failed string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}

// TestDialFailsTheTest: a refused handshake fails the test, naming the URL.
func TestDialFailsTheTest(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	f := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		wstest.Dial(f, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	}()
	if !strings.HasPrefix(f.failed, "dial ") {
		t.Fatalf("Dial did not fail the test (%q)", f.failed)
	}
}

// shutdownServer is an echo handler that records its shutdown.
type shutdownServer struct{ shut chan struct{} }

func (s *shutdownServer) Handler() http.Handler { return wsHandler(echo) }

func (s *shutdownServer) Shutdown(context.Context) error {
	close(s.shut)
	return nil
}

// TestServe: the URL Serve returns reaches the server over WebSocket, and
// the server is shut down when the test ends.
func TestServe(t *testing.T) {
	srv := &shutdownServer{shut: make(chan struct{})}
	t.Run("serve", func(t *testing.T) {
		url := wstest.Serve(t, srv)
		if !strings.HasPrefix(url, "ws://127.0.0.1:") {
			t.Fatalf("url %q", url)
		}
		c := wstest.Dial(t, url, nil)
		if err := c.Write(context.Background(), websocket.MessageText, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, b, err := c.Read(context.Background()); err != nil || string(b) != "x" {
			t.Fatalf("echo %q %v", b, err)
		}
	})
	select {
	case <-srv.shut:
	default:
		t.Fatal("the server was not shut down when the test ended")
	}
}

// TestCall: Call passes over a notification and another answer and returns
// the answer with its id; a peer that goes away is an error.
func TestCall(t *testing.T) {
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
	c := wstest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := wstest.Call(ctx, c, json.RawMessage("7"), "cif.getmode", nil)
	if err != nil || string(a.Result) != `"mine"` || a.Error != nil || !strings.Contains(string(a.Raw), `"id":7`) {
		t.Fatalf("answer %+v %v", a, err)
	}
	if _, err := wstest.Call(ctx, c, json.RawMessage("8"), "cif.getmode", nil); err == nil || !strings.HasPrefix(err.Error(), "read: ") {
		t.Fatalf("peer gone: %v", err)
	}
}
