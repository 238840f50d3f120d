package bridge_test

import (
	"os"
	"testing"

	"github.com/cifbridge/cifbridge/internal/testutil"
)

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) { os.Exit(testutil.RunWithoutLeaks(m)) }
