package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/protocol"
)

// An event for a session held by another node is raised there and its
// widget's answer (or error) comes back; a session on no node is -32002.
func TestEventsReachTheHoldingNode(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		raised := make(chan string, 1)
		onC := &cluster.Events{Router: server, Node: "C", Log: zerolog.Nop(),
			Has: func(s string) bool { return s == "sC" || s == "sErr" },
			RaiseLocal: func(ctx context.Context, session, eventType string, data json.RawMessage) (json.RawMessage, error) {
				if session == "sErr" {
					return nil, protocol.NewTimeoutError(10000, "")
				}
				raised <- session + " " + eventType + " " + string(data)
				return json.RawMessage(`{"handled":true}`), nil
			}}
		onA := &cluster.Events{Router: caller, Node: "A", Log: zerolog.Nop(), Has: func(string) bool { return false },
			RaiseLocal: func(context.Context, string, string, json.RawMessage) (json.RawMessage, error) {
				t.Error("A raised an event it does not hold")
				return nil, nil
			}}
		for _, e := range []*cluster.Events{onC, onA} {
			stop, err := e.Serve()
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
		}
		wait(cluster.NodeEventsService("C"), 1)
		wait(cluster.WhoHasService, 1)
		res, err := onA.Raise(callCtx(t), "sC", "onclicktoact", json.RawMessage(`{"value":"+31"}`))
		if err != nil || string(res) != `{"handled":true}` {
			t.Fatalf("event on C's session: %s, %v", res, err)
		}
		if got := <-raised; got != `sC onclicktoact {"value":"+31"}` {
			t.Fatalf("C raised %q", got)
		}
		_, err = onA.Raise(callCtx(t), "sErr", "onclicktoact", nil)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeTimeout {
			t.Fatalf("widget's error: %v, want -32000", err)
		}
		_, err = onA.Raise(callCtx(t), "sNone", "onclicktoact", nil)
		if !errors.As(err, &pe) || pe.Code != protocol.CodeNoBackend || !strings.Contains(pe.Message, "sNone") {
			t.Fatalf("session on no node: %v, want -32002 naming it", err)
		}
	})
}
