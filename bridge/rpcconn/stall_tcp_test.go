package rpcconn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

// TestStalledHeaderClosedOnTCP: on a real socket, where the Wire waits for
// readability in the poller without a buffer (try mode), the read timeout
// runs only inside a message: a client quiet between messages for twice
// the timeout is not closed, and one that then sends a single byte of a
// frame header and stops is closed with 1008 "message not complete
// within …", no sooner than the timeout. (The synctest tests of the same
// rule run on an in-memory pipe, which takes the buffered read path.)
func TestStalledHeaderClosedOnTCP(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := startInlineServer(t, rpcconn.Options{ReadTimeout: timeout, PingInterval: -1}, 1)
	conn, br := dialRaw(t, s.hs)
	<-s.wires

	msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"pad","params":{"i":1,"n":3}}`)
	conn.Write(append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)) // masked with a zero key
	got, err := readTextFrame(br)
	if err != nil || !strings.Contains(string(got), `"pad":"xxx"`) {
		t.Fatalf("answer %q, %v", got, err)
	}
	select {
	case err := <-s.errs:
		t.Fatalf("closed while quiet between messages: %v", err)
	case <-time.After(2 * timeout): // a lower bound: nothing may happen meanwhile
	}

	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard, not a timing
	start := time.Now()
	conn.Write([]byte{0x81}) // half a header, then nothing
	code, reason, err := readCloseFrame(br)
	waited := time.Since(start)
	if err != nil || code != websocket.StatusPolicyViolation || !strings.Contains(reason, "message not complete within "+timeout.String()) {
		t.Fatalf("close frame %d %q, %v; want 1008 message not complete", code, reason, err)
	}
	if waited < timeout {
		t.Errorf("closed %v after the half header, before the %v read timeout", waited, timeout)
	}
	conn.Close()
	if err := <-s.errs; err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Run = %v, want the stalled-message error", err)
	}
}
