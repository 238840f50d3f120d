package bridge_test

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestStreamRecentLate: the stream lists each late record that ended with
// its own lateByMs and outcome, exactly as bridge.late told the widget: a
// late success and a late failure (with its error), newest first.
func TestStreamRecentLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{HostBackend: true, Token: streamToken, Timeout: 150 * time.Millisecond})
		mountStream(tb)

		// A host peer that answers each call when the test says: success for
		// entity …01, a Dataverse failure for …02.
		type held struct {
			entityID string
			release  chan struct{}
		}
		got := make(chan held, 2)
		h := jsonrpc2.HandlerWithError(func(ctx context.Context, _ *jsonrpc2.Conn, r *jsonrpc2.Request) (any, error) {
			var p struct {
				EntityID string `json:"entityId"`
			}
			json.Unmarshal(*r.Params, &p)
			c := held{p.EntityID, make(chan struct{})}
			got <- c
			select {
			case <-c.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if p.EntityID == "bbbbbbbb-0000-4000-8000-000000000002" {
				return nil, &jsonrpc2.Error{Code: protocol.CodeBackend, Message: "the record is locked"}
			}
			return map[string]string{"contactid": p.EntityID}, nil
		})
		tb.dialHost(t, h, streamToken, "*", "late-host")

		w := authDial(t, tb)
		sess := hello(t, w).Session
		st := openStream(t, tb)
		if first := st.snapshot(); first.RecentLate == nil || len(first.RecentLate) != 0 {
			t.Fatalf("recentLate before any late record: %#v, want []", first.RecentLate)
		}

		// lateOne sends a retrieve that times out, answers it late and returns
		// the bridge.late params the widget received.
		lateOne := func(id int, entityID string) protocol.LateParams {
			t.Helper()
			retrieve(w, id, entityID)
			c := <-got
			if r := w.recvReply(); r.Error == nil || r.Error.Code != protocol.CodeTimeout {
				t.Fatalf("call %d: %+v, want the CIF timeout", id, r)
			}
			close(c.release)
			for {
				r := w.recvReply()
				if r.Method == protocol.NotifyLate {
					var p protocol.LateParams
					if err := json.Unmarshal(r.Params, &p); err != nil {
						t.Fatal(err)
					}
					return p
				}
			}
		}
		ok := lateOne(11, "aaaaaaaa-0000-4000-8000-000000000001")
		bad := lateOne(12, "bbbbbbbb-0000-4000-8000-000000000002")
		if ok.Outcome != protocol.OutcomeSuccess || bad.Outcome != protocol.OutcomeFailure {
			t.Fatalf("bridge.late outcomes %q, %q", ok.Outcome, bad.Outcome)
		}

		snap := st.waitFor("two ended late records", func(s protocol.StreamSnapshot) bool { return len(s.RecentLate) == 2 })
		for i, want := range []protocol.LateParams{bad, ok} { // newest first
			e := snap.RecentLate[i]
			if e.Session != sess || e.AttemptID != want.AttemptID || e.Method != protocol.MethodRetrieveRecord ||
				e.Outcome != want.Outcome || e.LateByMs != want.LateByMs || e.State != "timedout" || e.At.IsZero() {
				t.Errorf("recentLate[%d] = %+v, want the bridge.late %+v", i, e, want)
			}
		}
		if e := snap.RecentLate[0].Error; e == nil || e.Code != protocol.CodeBackend || e.Message != "the record is locked" {
			t.Errorf("late failure's error %+v", e)
		}
		if snap.RecentLate[1].Error != nil {
			t.Errorf("late success carries an error: %+v", snap.RecentLate[1].Error)
		}
	})
}
