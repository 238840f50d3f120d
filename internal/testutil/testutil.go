// Package testutil holds the small helpers the tests share: a log sink
// that is safe for concurrent writers; checks that no secret reached a log
// line, an error or a capture and of an error's JSON-RPC code; a bridge on
// loopback for one test and a server on in-memory pipes for a
// testing/synctest bubble (internal/pipenet); raw WebSocket calls for the
// tests that must see frames exactly (the others use the Go client,
// client.Dial); and a TestMain that fails on leaked goroutines.
//
// Entry points: Buffer, NoSecrets, SortedKeys, WantCode, ServeBridge,
// ServePipe, DialRaw, RawCall, RunWithoutLeaks.
package testutil

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// Buffer is an io.Writer for a logger that many goroutines write to; String
// returns everything written so far.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// NoSecrets reports an error for each secret that appears in text; what
// names the text ("the log", "the capture").
func NoSecrets(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%q):\n%s", what, s, text)
		}
	}
}

// SortedKeys returns the keys of a decoded JSON object, sorted.
func SortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WantCode fails the test unless err is an error with the JSON-RPC code
// (protocol.AsError) and returns it as a *protocol.Error.
func WantCode(t testing.TB, err error, code int64) *protocol.Error {
	t.Helper()
	pe := protocol.AsError(err)
	if err == nil || pe.Code != code {
		t.Fatalf("got %v, want code %d", err, code)
	}
	return pe
}

// MustJSON is v marshalled, failing the test when it does not marshal; a
// nil v gives nil (a call without params).
func MustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
