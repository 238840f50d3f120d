package emulator

import (
	"fmt"
	"strings"
	"testing"
)

// newEmulator returns a new emulator of cfg, failing tb if New refuses it.
func newEmulator(tb testing.TB, cfg Config) *Emulator {
	tb.Helper()
	e, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// lockedEmulator is newEmulator with the write lock held until t ends, for
// tests that call the store's apply functions directly.
func lockedEmulator(t *testing.T, cfg Config) *Emulator {
	t.Helper()
	e := newEmulator(t, cfg)
	e.mu.Lock()
	t.Cleanup(e.mu.Unlock)
	return e
}

// dumpRow renders every column of r in stored order, one a line: name,
// kind and text; new GUIDs (those in ids) read <id0>, <id1>, … so that the
// dump is the same on every run.
func dumpRow(r row, ids []string) string {
	var b strings.Builder
	for len(r) > 0 {
		name, kind, text, rest := r.next()
		t := string(text)
		for i, id := range ids {
			t = strings.ReplaceAll(t, id, fmt.Sprintf("<id%d>", i))
		}
		fmt.Fprintf(&b, "%s %c %q\n", name, kind, t)
		r = rest
	}
	return b.String()
}
