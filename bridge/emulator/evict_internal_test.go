package emulator

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/correlation"
)

// Create/delete churn must not grow the eviction queue without bound.
func TestEvictionQueueStaysBounded(t *testing.T) {
	e := newEmulator(t, Config{MaxRecords: 10})
	for range 50_000 {
		res, err := e.Execute(context.Background(), &correlation.Attempt{Method: "cif.createrecord", Params: json.RawMessage(`{"entityName":"contact","value":{"lastname":"x"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ ID string }
		_ = json.Unmarshal(res, &r)
		if _, err := e.Execute(context.Background(), &correlation.Attempt{Method: "cif.deleterecord", Params: json.RawMessage(`{"entityName":"contact","entityId":"` + r.ID + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if n := len(e.store.order); n > 4*10+1024+1 {
		t.Fatalf("eviction queue holds %d keys for %d live records", n, e.store.live)
	}
	if e.store.live != 0 {
		t.Fatalf("live = %d after deleting everything", e.store.live)
	}
}
