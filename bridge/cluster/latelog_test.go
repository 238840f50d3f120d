package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/internal/testutil"
)

// TestLateStreamFailuresLoggedSparingly: while the late-answer stream
// cannot be read (JetStream without a quorum on a node left alone, the
// stream gone) the reader tries again every second, as before, but it
// logged a warning on every try: 3 600 lines an hour from one node. The
// first failure is logged, the next ones at most once a minute, with
// their count.
func TestLateStreamFailuresLoggedSparingly(t *testing.T) {
	e := startServer(t, cluster.EmbedConfig{Name: "solo", JetStream: true, StoreDir: t.TempDir()})
	d := openDurable(t, e, "solo", 1)
	var logs testutil.Buffer
	l := &cluster.LateAnswers{Node: "a", Log: zerolog.New(&logs)}
	l.Open(d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	time.Sleep(300 * time.Millisecond) // the reader is up
	if err := d.JS.DeleteStream(context.Background(), cluster.LateStream); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond) // three tries or more, a second apart
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := strings.Count(logs.String(), "reading the late-answer stream failed"); n != 1 {
		t.Fatalf("%d warnings in 3.5 s of an unreadable stream, want 1:\n%s", n, &logs)
	}
}
