package rpcconn_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

// goroutinesIn counts the goroutines whose stack has fn in it.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), fn+"(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestIdleConnectionHasNoWriter: an idle connection is its reader alone;
// the writer starts when a message is queued (an answer, a Notify) and
// exits once it has written the queue.
func TestIdleConnectionHasNoWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := startPipeServer(t, rpcconn.Options{PingInterval: -1})
		const n = 3
		clients := make([]*websocket.Conn, n)
		conns := make([]*rpcconn.Conn, n)
		for i := range clients {
			ws, _, err := websocket.Dial(t.Context(), "ws://127.0.0.1/", &websocket.DialOptions{
				HTTPClient: &http.Client{Transport: &http.Transport{DialContext: ps.ln.Dial}},
			})
			if err != nil {
				t.Fatal(err)
			}
			clients[i], conns[i] = ws, <-ps.conns
			write(t, ws, `{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}`)
			if got := read(t, ws); got != `{"jsonrpc":"2.0","id":1,"result":[1]}` {
				t.Fatalf("answer %s", got)
			}
		}
		synctest.Wait()
		if r, w := goroutinesIn("rpcconn.(*Conn).readLoop"), goroutinesIn("rpcconn.(*Conn).writeLoop"); r != n || w != 0 {
			t.Fatalf("%d idle connections run %d readers and %d writers, want %d and 0", n, r, w, n)
		}
		// A message from the bridge's side starts a writer again, which
		// delivers it and exits.
		for i, c := range conns {
			if err := c.Notify("note", []byte(`{"k":1}`)); err != nil {
				t.Fatal(err)
			}
			if got := read(t, clients[i]); got != `{"jsonrpc":"2.0","method":"note","params":{"k":1}}` {
				t.Fatalf("notification %s", got)
			}
		}
		synctest.Wait()
		if w := goroutinesIn("rpcconn.(*Conn).writeLoop"); w != 0 {
			t.Fatalf("%d writers left after the notifications were written", w)
		}
		for _, ws := range clients {
			ws.Close(websocket.StatusNormalClosure, "")
		}
		for range n {
			if err := <-ps.errs; err != nil {
				t.Errorf("Run = %v", err)
			}
		}
	})
}
