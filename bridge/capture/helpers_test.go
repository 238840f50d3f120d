package capture_test

import (
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// The helpers the capture tests share: the capture files in a folder, a
// reader of one, and a timeline of a counter under synctest.

// files lists the capture files in dir, sorted by name.
func files(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// step is one point of a timeline in a synctest bubble: once wait has
// passed, a figure reads want (what says when, for the failure).
type step struct {
	wait time.Duration
	want int64
	what string
}

// checkTimeline lets each step's wait pass in the bubble and checks what
// stat reads of the figure called name once the bubble has settled.
func checkTimeline(t *testing.T, name string, stat func() int64, steps ...step) {
	t.Helper()
	for _, s := range steps {
		time.Sleep(s.wait)
		synctest.Wait()
		if got := stat(); got != s.want {
			t.Fatalf("%s %s = %d, want %d", name, s.what, got, s.want)
		}
	}
}

// openReader opens the capture file at path until the test ends.
func openReader(t *testing.T, path string) *protocol.CaptureReader {
	t.Helper()
	r, err := protocol.OpenCaptureFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
