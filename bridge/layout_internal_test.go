package bridge

import (
	"context"
	"encoding/json"
	"testing"
	"time"
	"unsafe"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// The in-flight counter every call adds to shares no cache line with
// the fields every call reads (draining, the sessions), whatever the
// Server's alignment.
func TestInflightAloneOnItsLine(t *testing.T) {
	var s Server
	at := unsafe.Offsetof(s.inflight) + unsafe.Offsetof(s.inflight.Int64)
	before := unsafe.Offsetof(s.draining) + unsafe.Sizeof(s.draining)
	after := unsafe.Offsetof(s.sessions)
	if at-before < 56 || after-(at+unsafe.Sizeof(s.inflight.Int64)) < 56 {
		t.Fatalf("inflight at %d, draining ends at %d, sessions at %d: want 56 bytes either side (an 8-byte counter, 8-aligned, then shares no 64-byte line)", at, before, after)
	}
}

// TestCallTakesNoSessionLock: a call reads its session's CIF timeout
// without the session's lock (every call does), so a call is answered
// while another goroutine holds that lock.
func TestCallTakesNoSessionLock(t *testing.T) {
	s, _ := emulatorServer(t)
	sess := s.sessions.open(protocol.ProfileCIF2, 7*time.Second, nil)
	if got := sess.Timeout(); got != 7*time.Second {
		t.Fatalf("Timeout() = %v, want 7s", got)
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Attempt(context.Background(), sess, correlation.Attempt{Method: protocol.MethodGetMode, Params: json.RawMessage(`{}`)})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call waited for the session's lock")
	}
}
