package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// An attempt with its own Timeout runs under it instead of the session's
// CIF timeout (the seam for calls without the CIF timer), and the bridge
// tells the caller that the attempt became a late record.
func TestAttemptOwnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan *correlation.Attempt, 1)
		be := backend.Func{N: "slow", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			got <- a
			<-ctx.Done()
			return nil, ctx.Err()
		}}
		srv, err := bridge.New(bridge.Config{Backend: be})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown(context.Background())
		sess := &bridge.Session{ID: "s1"}
		start := time.Now()
		typed := &protocol.RecordParams{EntityName: "contact", EntityID: "x"}
		_, sent, err := srv.Attempt(t.Context(), sess, correlation.Attempt{Method: protocol.MethodDeleteRecord, Typed: typed, Timeout: 90 * time.Second})
		if !errors.Is(err, protocol.ErrTimeout) || time.Since(start) != 90*time.Second {
			t.Fatalf("err %v after %v; want the -32000 after the attempt's own 90 s", err, time.Since(start))
		}
		if !sent.Late || sent.ID == "" {
			t.Fatalf("Sent = %+v; want a named late record", sent)
		}
		a := <-got
		if a.ID != sent.ID || a.Session != "s1" || a.Kind != correlation.KindBackend || a.Typed != typed || !a.Deadline.Equal(start.Add(90*time.Second)) {
			t.Fatalf("backend got %+v; want the attempt as sent, named and with its deadline", a)
		}
		if late := srv.Table().Late("s1"); len(late) != 1 || late[0].ID != sent.ID {
			t.Fatalf("late records %+v; want the attempt", late)
		}
	})
}
