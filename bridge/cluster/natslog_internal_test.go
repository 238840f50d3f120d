package cluster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/testutil"
)

// The same kind of line from other connections is one line a minute with
// a count; other kinds have their own; the kinds kept apart are bounded.
func TestNATSLogSamplesByKind(t *testing.T) {
	var logs testutil.Buffer
	l := newNATSLog(zerolog.New(&logs))
	for rid := range 5 {
		l.Errorf(fmt.Sprintf("127.0.0.1:%d - rid:%d - Remote server has a duplicate name: %%q", 50000+rid, rid), "a")
	}
	l.Warnf("JetStream has not established contact with a meta leader")
	l.Noticef("Server is ready")
	out := logs.String()
	if n := strings.Count(out, "duplicate name"); n != 1 {
		t.Fatalf("%d duplicate-name lines from 5 connections, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, `"level":"warn","component":"nats-server","message":"127.0.0.1:50000 - rid:0 - Remote server has a duplicate name: \"a\""`) {
		t.Errorf("the error is not a warning of nats-server's with its text:\n%s", out)
	}
	if !strings.Contains(out, `"level":"info","component":"nats-server","message":"JetStream has not established contact with a meta leader"`) {
		t.Errorf("the warning is not an info line:\n%s", out)
	}
	if strings.Contains(out, "Server is ready") {
		t.Errorf("a notice was logged:\n%s", out)
	}
	for i := range 2 * maxNATSKinds {
		l.kind(fmt.Sprintf("kind %d %%v", i))
	}
	if n := len(l.kinds); n != maxNATSKinds {
		t.Errorf("%d kinds kept apart, want at most %d", n, maxNATSKinds)
	}
}
