package main

import (
	"os"
	"testing"

	"github.com/cifbridge/cifbridge/internal/testutil"
)

// TestMain fails the package if any goroutine of the in-process daemons
// outlives the tests, and removes the binary the subprocess tests share
// (buildRetryBinary).
func TestMain(m *testing.M) {
	code := testutil.RunWithoutLeaksEmbeddingNATS(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
