package rpcconn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/internal/testutil"
)

// TestCallEndedByItsConnectionIsNotAnInternalError: a widget that closes
// its socket while a call of its own still runs (a tab closed mid-call, a
// session moved to another node) ends that call's context with ErrClosed.
// The handler returning that cause is no bug of ours and there is nobody
// to answer: it must not be logged as "request failed with an internal
// error" at error level, as it was.
func TestCallEndedByItsConnectionIsNotAnInternalError(t *testing.T) {
	var logs testutil.Buffer
	s := startServer(t, rpcconn.Options{Logger: zerolog.New(&logs)}, 1<<20)
	ws, _ := s.dial(t)
	write(t, ws, `{"jsonrpc":"2.0","id":1,"method":"block"}`)
	<-s.h.blocked
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.errs:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end after the client closed")
	}
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, `"level":"error"`) {
			t.Errorf("a call ended by its own connection's close was logged as an error:\n%s", line)
		}
	}
}
