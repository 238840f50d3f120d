package retry_test

import (
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/dataverse"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// dataverseOn returns a rig backend: the Dataverse backend talking to the
// emulator's own Web API face (and a token endpoint beside it) over
// in-memory pipes, with its HTTP timeout set to httpTimeout. Call it inside
// the test's synctest bubble.
func dataverseOn(httpTimeout time.Duration) func(t *testing.T, emu *emulator.Emulator) backend.Backend {
	return func(t *testing.T, emu *emulator.Emulator) backend.Backend {
		mux := http.NewServeMux()
		mux.Handle("/", emu.WebAPIHandler())
		mux.HandleFunc("/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`))
		})
		ln, hc := testutil.ServePipe(t, mux)
		base := "http://" + ln.Addr().String()
		b, err := dataverse.New(dataverse.Config{URL: base, ClientID: "c", ClientSecret: "s", TokenURL: base + "/oauth2/token",
			HTTPTimeout: httpTimeout, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// The Dataverse backend answers -32001 with httpStatus 504 and timeoutMs
// itself when its HTTP request times out (below the CIF timeout): the bridge keeps no late record, so no late
// answer will ever come, while Dataverse may still finish the create. The
// engine must flag the create (expired-unknown: a duplicate may exist, and
// nothing will settle it), not wait for an answer forever with the entry
// stuck at suspected and the create held in memory.
func TestBackendOwnTimeoutIsFlaggedAndNotAwaited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, rigOptions{
			timeout: 5 * time.Second, backend: dataverseOn(400 * time.Millisecond),
			faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 1200, Count: 1}}},
		})
		c := r.dial()
		res, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"lastname": "Cut off"}, "delay": 0})
		if rep.Error != nil {
			t.Fatalf("create: %+v", rep.Error)
		}
		if res.Attempts != 2 || !res.PossibleDuplicate || res.LedgerID == "" {
			t.Fatalf("result %s", rep.Result)
		}
		// Nothing is awaited: no late answer will come for a backend's own
		// timeout.
		if n := r.engine.Pending(); n != 0 {
			t.Fatalf("%d creates still wait for a late answer that cannot come", n)
		}
		e := r.entry(res.LedgerID)
		if e.Status != protocol.LedgerExpiredUnknown || e.Attempts[0].Outcome != protocol.LedgerOutcomeUnknown || e.Attempts[0].Code != -32001 || e.Attempts[0].HTTPStatus != 504 ||
			!slices.Equal(e.RecordIDs, []string{res.ID}) {
			t.Fatalf("entry %+v", e)
		}
		// Ground truth: the cut-off create landed after all (its 1.2 s latency
		// is over). The ledger cannot know that, and says so: flagged, never
		// cleared.
		time.Sleep(1200 * time.Millisecond)
		synctest.Wait()
		if n := r.records("contact"); n != 2 {
			t.Fatalf("emulator holds %d contacts, want 2", n)
		}
		if e := r.entry(res.LedgerID); e.Status != protocol.LedgerExpiredUnknown {
			t.Fatalf("entry after the cut-off create landed %+v", e)
		}
	})
}
