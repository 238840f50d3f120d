package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// Host peers on the serving node answer the sessions they name, and every
// session while one of them serves "*"; nobody → -32002 at once naming
// the session.
func TestHostServerServesNamedSessionsAndAll(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		local := backend.Func{N: "host", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			return json.Marshal("served " + a.Session)
		}}
		hs := &cluster.HostServer{Router: server, Node: "B", Local: local, Log: zerolog.Nop()}
		defer hs.Close()
		hb := &cluster.HostBackend{Router: caller, Node: "A"}
		exec := func(session string) (string, error) {
			res, err := hb.Execute(callCtx(t), &correlation.Attempt{Session: session, Method: "cif.createrecord", Params: json.RawMessage(`{}`), Timeout: 10 * time.Second})
			return string(res), err
		}
		nobody := func(session string) {
			t.Helper()
			_, err := exec(session)
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeNoBackend || !strings.Contains(pe.Message, session) {
				t.Fatalf("session %s: %v, want -32002 naming it", session, err)
			}
		}
		nobody("s01")

		hs.Sync([]string{"s01", "bad.id", "*"}, false) // invalid ids are not served cluster-wide
		wait(cluster.HostService("s01"), 1)
		if got, err := exec("s01"); err != nil || got != `"served s01"` {
			t.Fatalf("named session: %s, %v", got, err)
		}
		nobody("s02")

		hs.Sync(nil, true)
		wait(cluster.HostService("s01"), 0)
		wait(cluster.HostAllService, 1)
		for _, s := range []string{"s01", "s02", "not.a.token"} {
			if got, err := exec(s); err != nil || got != `"served `+s+`"` {
				t.Fatalf("session %s with a * host: %s, %v", s, got, err)
			}
		}

		hs.Sync(nil, false)
		wait(cluster.HostAllService, 0)
		nobody("s02")
	})
}
