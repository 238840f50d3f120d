package bridge_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// connection, handler, attempt and timer must be gone once servers shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// httptest keeps idle keep-alive client connections in the default transport.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
