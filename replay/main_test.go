package replay_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives its tests (no
// function is ignored).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
