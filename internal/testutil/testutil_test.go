package testutil_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b testutil.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if n := len(b.String()); n != 8*len("line 0\n") {
		t.Fatalf("%d bytes written, want %d", n, 8*len("line 0\n"))
	}
}

func TestNoSecrets(t *testing.T) {
	inner := &testing.T{}
	testutil.NoSecrets(inner, "the log", "token tok-1 leaked", "tok-1")
	if !inner.Failed() {
		t.Fatal("a secret in the text was not reported")
	}
	clean := &testing.T{}
	testutil.NoSecrets(clean, "the log", "nothing here", "tok-1", "")
	if clean.Failed() {
		t.Fatal("a clean text was reported")
	}
}

func TestSortedKeys(t *testing.T) {
	if got := testutil.SortedKeys(map[string]any{"b": 1, "a": 2}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("got %v", got)
	}
}

// TestWantCode: the error with the code is returned as a *protocol.Error.
func TestWantCode(t *testing.T) {
	pe := testutil.WantCode(t, protocol.InvalidParams("bad %s", "x"), protocol.CodeInvalidParams)
	if !strings.Contains(pe.Message, "bad x") {
		t.Fatalf("returned %+v", pe)
	}
}
