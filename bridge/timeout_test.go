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

// TestTimeoutExactAndLateAnswer: a create delayed past the CIF timeout fails
// at exactly the timeout with CIF's text; its late success is pushed as
// bridge.late; the record really exists afterwards.
func TestTimeoutExactAndLateAnswer(t *testing.T) {
	tests := []struct {
		name      string
		profile   string
		latency   int
		wantAfter time.Duration
	}{
		{"cif1 times out at 10s", protocol.ProfileCIF1, 12_000, 10 * time.Second},
		{"cif2 times out at 100s", protocol.ProfileCIF2, 103_500, 100 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu, ws := inBubble(t, &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: tt.latency, Count: 1}}})
				ws.send(`{"jsonrpc":"2.0","id":"h","method":"bridge.hello","params":{"profile":"` + tt.profile + `"}}`)
				var h protocol.HelloResult
				json.Unmarshal(ws.recvReply().Result, &h)
				if h.TimeoutMs != tt.wantAfter.Milliseconds() {
					t.Fatalf("hello timeoutMs = %d", h.TimeoutMs)
				}
				start := time.Now()
				ws.send(`{"jsonrpc":"2.0","id":42,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Late"}}}`)
				r := ws.recvReply()
				if got := time.Since(start); got != tt.wantAfter {
					t.Errorf("timeout after %v, want exactly %v", got, tt.wantAfter)
				}
				if string(r.ID) != "42" || r.Error == nil || r.Error.Code != protocol.CodeTimeout {
					t.Fatalf("reply = %+v", r)
				}
				var d protocol.TimeoutData
				json.Unmarshal(r.Error.Data, &d)
				if d.Message != protocol.TimeoutMessage || r.Error.Message != protocol.TimeoutMessage {
					t.Errorf("timeout text = %q / %q", r.Error.Message, d.Message)
				}
				late := ws.recvReply()
				if got := time.Since(start); got != time.Duration(tt.latency)*time.Millisecond {
					t.Errorf("late answer after %v, want %dms", got, tt.latency)
				}
				var lp protocol.LateParams
				json.Unmarshal(late.Params, &lp)
				wantLateBy := int64(tt.latency) - tt.wantAfter.Milliseconds()
				if late.Method != protocol.NotifyLate || late.ID != nil || string(lp.RequestID) != "42" || lp.Outcome != protocol.OutcomeSuccess ||
					lp.LateByMs != wantLateBy || lp.AttemptID != d.AttemptID || lp.Method != protocol.MethodCreateRecord {
					t.Fatalf("bridge.late = %s %s (want lateByMs %d)", late.Method, late.Params, wantLateBy)
				}
				var created protocol.CreateResult
				json.Unmarshal(lp.Result, &created)
				st := emu.Stats()
				if st.Tables["contact"].Records != 1 || st.LateCompletions != 1 || created.ID == "" {
					t.Errorf("ground truth: %+v, late result %s", st, lp.Result)
				}
			})
		})
	}
}

// TestLateFailureReported: a timed-out attempt that fails later is reported
// as outcome "failure" with the error.
func TestLateFailureReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, ws := inBubble(t, &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 15_000, Count: 1,
			Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "busy"}}}})
		ws.send(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{}}}`)
		if r := ws.recvReply(); r.Error == nil || r.Error.Code != protocol.CodeTimeout {
			t.Fatalf("reply = %+v", r)
		}
		late := ws.recvReply()
		var lp protocol.LateParams
		json.Unmarshal(late.Params, &lp)
		if lp.Outcome != protocol.OutcomeFailure || lp.Error == nil || lp.Error.Code != protocol.CodeBackend || lp.LateByMs != 5000 {
			t.Fatalf("bridge.late = %s", late.Params)
		}
	})
}

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
