package bridge

import (
	"testing"
	"unsafe"
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
