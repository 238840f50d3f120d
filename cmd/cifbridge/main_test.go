package main

import (
	"os"
	"testing"
)

// TestMain removes the binary the subprocess tests share (buildRetryBinary).
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
