package testutil

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// RunWithoutLeaks runs the package's tests and returns their exit code,
// turned into a failure when any goroutine outlives them: every
// connection, handler, attempt, timer and socket reader must be gone once
// the servers have shut down. No function is ignored. Idle keep-alive
// connections of the default HTTP client are closed first: they are a
// cache, not a leak. after runs once the tests are done and before the
// leak check, whatever their outcome: it stops what the package's tests
// share (servers started on first use, temporary directories). Use it from
// TestMain: os.Exit(RunWithoutLeaks(m)).
func RunWithoutLeaks(m *testing.M, after ...func()) int {
	return runWithoutLeaks(m, nil, after)
}

// NATSStoreRace names the two goroutines of one nats-server (v2.15)
// stream store that a server can leave behind when a stream is created on
// it while it shuts down (its JetStream stops the streams it has listed,
// and this one was being made): the store's state flusher and the
// access-time ticker every store registers. They are the dependency's, not
// ours; every other goroutine, nats-server's included, is still a leak.
var NATSStoreRace = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
	goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
}

// RunWithoutLeaksEmbeddingNATS is RunWithoutLeaks for packages whose tests
// run embedded NATS servers: it tolerates NATSStoreRace and nothing else.
func RunWithoutLeaksEmbeddingNATS(m *testing.M, after ...func()) int {
	return runWithoutLeaks(m, NATSStoreRace, after)
}

func runWithoutLeaks(m *testing.M, ignore []goleak.Option, after []func()) int {
	code := m.Run()
	for _, f := range after {
		f()
	}
	if code != 0 {
		return code
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	// Patience, not an exception: an embedded NATS server or client that a
	// test has closed may take a few seconds to let its goroutines end, more
	// than one Find (about 2 s of retries) waits under load.
	err := goleak.Find(ignore...)
	for i := 0; err != nil && i < 4; i++ {
		time.Sleep(time.Second)
		err = goleak.Find(ignore...)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "goleak: goroutines outlived the tests:", err)
		return 1
	}
	return 0
}
