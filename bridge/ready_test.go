package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// checkedBackend is a backend whose readiness the test controls.
type checkedBackend struct {
	backend.Func
	fail atomic.Bool
}

func (c *checkedBackend) Check(ctx context.Context) error {
	if c.fail.Load() {
		// An org that echoes what it got: /readyz must not repeat it.
		return protocol.NewBackendError(401, "0x80072560", "bad token: Bearer eyJ-ORG-TOKEN-never-shown", "retrieverecord", "")
	}
	return nil
}

func TestReadyzAsksTheBackend(t *testing.T) {
	be := &checkedBackend{Func: backend.Func{N: "dataverse", F: func(context.Context, *correlation.Attempt) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	}}}
	tb := startBridge(t, bridge.Config{Backend: be})
	get := func() (int, map[string]string) {
		var body map[string]string
		return tb.httpJSON(t, http.MethodGet, "/readyz", nil, &body), body
	}
	if code, body := get(); code != 200 || body["backend"] != "dataverse" {
		t.Fatalf("ready backend: %d %v", code, body)
	}
	be.fail.Store(true)
	code, body := get()
	if code != http.StatusServiceUnavailable || body["error"] != "the backend answered HTTP 401 (0x80072560): see the daemon's log" || body["backend"] != "dataverse" {
		t.Fatalf("failing backend: %d %v", code, body)
	}
	be.fail.Store(false)
	if code, _ := get(); code != 200 {
		t.Fatalf("recovered backend: %d", code)
	}
}
