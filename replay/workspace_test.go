package replay_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/replay"
)

// pump reads until the answer to id has arrived (id "" for none) and n
// event requests have been answered with null (events may come before or
// after the answer), and returns the answer.
func pump(t *testing.T, w *ws, id string, n int) map[string]json.RawMessage {
	t.Helper()
	var answer map[string]json.RawMessage
	for answer == nil && id != "" || n > 0 {
		m := w.recv()
		if _, isReq := m["method"]; isReq {
			if len(m["id"]) > 0 {
				w.send(map[string]any{"jsonrpc": "2.0", "id": m["id"], "result": nil})
				n--
			}
			continue
		}
		if string(m["id"]) == id {
			answer = m
		}
	}
	return answer
}

// TestReplayAgentActions: a multisession incident (a notification the agent
// accepts, a session, the agent closing it) is captured with the agent's
// actions and replays with the same answers and events, the workspace's
// events coming from the bridge, not raised twice.
func TestReplayAgentActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, rec := startRecorded(t, header(protocol.ProfileCIF2, 100*time.Second), replay.ModeWidget, t.TempDir(), false)
		base := "http" + strings.TrimSuffix(strings.TrimPrefix(e.URL, "ws"), protocol.PathWidget)
		w := dialWS(t, e, protocol.PathWidget)
		sess := str(t, w.call("bridge.hello", map[string]any{"profile": "cif2"})["result"], "session")
		ws := base + "/api/v1/sessions/" + sess + "/workspace"
		post := func(path, body string) {
			t.Helper()
			resp, err := e.HTTPClient.Post(ws+path, "application/json", strings.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("POST %s: %v %v", path, err, resp)
			}
			resp.Body.Close()
		}
		w.send(map[string]any{"jsonrpc": "2.0", "id": 10, "method": "cif.notifyEvent",
			"params": map[string]any{"input": map[string]any{"templateName": "incoming_call", "templateParameters": map[string]any{"customer": "Ada"}}}})
		synctest.Wait() // the bridge has shown the notification
		resp, err := e.HTTPClient.Get(ws)
		if err != nil {
			t.Fatal(err)
		}
		var snap struct{ Notifications []struct{ ID, State string } }
		json.NewDecoder(resp.Body).Decode(&snap)
		resp.Body.Close()
		if len(snap.Notifications) != 1 {
			t.Fatalf("workspace notifications = %+v, want the one notifyEvent shows", snap.Notifications)
		}
		note := snap.Notifications[0].ID
		time.Sleep(30 * time.Millisecond) // the agent thinks (the bubble's time: captured as think time)
		post("/notifications/"+note, `{"action":"accept"}`)
		if got := string(pump(t, w, "10", 0)["result"]); got != `{"value":{"actionName":"Accept","responseReason":"Accept"}}` {
			t.Fatalf("notifyEvent = %s", got)
		}
		w.send(map[string]any{"jsonrpc": "2.0", "id": 11, "method": "cif.createSession", "params": map[string]any{"input": map[string]any{"templateName": "call_session"}}})
		sid := ""
		json.Unmarshal(pump(t, w, "11", 2)["result"], &sid) // and onSessionCreated, onSessionSwitched
		post("/sessions/"+sid+"/close", "")
		pump(t, w, "", 2) // onBeforeSessionClosed, onSessionClosed
		synctest.Wait()   // every frame is captured

		caps, err := replay.Load(rec.close(t))
		if err != nil {
			t.Fatal(err)
		}
		agents := 0
		for _, f := range caps[0].Frames {
			if f.Peer == protocol.CapturePeerAgent {
				agents++
			}
		}
		if agents != 2 {
			t.Fatalf("captured %d agent frames, want 2 (accept, close)", agents)
		}
		// Widget mode: the bridge's workspace answers and the agent's actions
		// are repeated; full mode: the replayed host answers as captured.
		for _, mode := range []string{replay.ModeWidget, replay.ModeFull} {
			_, _, again := replayRecorded(t, caps[0], replay.Options{Mode: mode, Speed: 1, Grace: 10 * time.Second}, false)
			if cmp := replay.Compare(caps[0], again, replay.Rules{LatencyTolerance: 100 * time.Millisecond}); !cmp.OK() {
				t.Fatalf("%s: the replay's capture differs from the live one:\n%s", mode, text(cmp))
			}
			// In full mode the replay raises the captured events itself, each on
			// its own request, so only widget mode keeps the workspace's order.
			if want, got := outOrderFree(widgetOrder(caps[0])), outOrderFree(widgetOrder(again)); mode == replay.ModeWidget && !slices.Equal(want, got) {
				t.Fatalf("%s: the replay's widget frames come in another order:\nlive:   %v\nreplay: %v", mode, want, got)
			}
		}
	})
}

// outOrderFree splits a widget order into the order of everything but the
// bridge's answers, and the answers sorted: the workspace's events and the
// answer of the call that raised them leave on different goroutines, so
// where the answer falls among them is not fixed (as in CIF, where the host
// posts them independently).
func outOrderFree(order []string) []string {
	var rest, answers []string
	for _, o := range order {
		if strings.HasPrefix(o, "out answer to ") {
			answers = append(answers, o)
		} else {
			rest = append(rest, o)
		}
	}
	slices.Sort(answers)
	return append(append(rest, "--"), answers...)
}
