package inproc_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/cifbridge/cifbridge/internal/inproc"
)

// TestRecorder: the first status wins, a body without one is a 200, the
// header is kept, and a write past the limit is refused whole.
func TestRecorder(t *testing.T) {
	var r inproc.Recorder
	r.Header().Set("X-A", "1")
	r.WriteHeader(http.StatusCreated)
	r.WriteHeader(http.StatusTeapot)
	if _, err := r.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusCreated || r.Body.String() != "ab" || r.Header().Get("X-A") != "1" {
		t.Fatalf("recorded %d %q %v", r.Status, r.Body.String(), r.Header())
	}

	lim := inproc.Recorder{Limit: 4}
	if _, err := lim.Write([]byte("abc")); err != nil || lim.Status != http.StatusOK {
		t.Fatalf("first write: %v, status %d", err, lim.Status)
	}
	if n, err := lim.Write([]byte("de")); n != 0 || !errors.Is(err, inproc.ErrTooLarge) || lim.Body.String() != "abc" {
		t.Fatalf("write past the limit: %d %v, body %q", n, err, lim.Body.String())
	}
}
