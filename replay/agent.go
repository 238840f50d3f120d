package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// The agent's actions on the CIF 2.0 workspace are captured as peer "agent"
// frames ({"method":"agent.<kind>","params":protocol.AgentAction});
// a replay does them again through the admin API at their captured times,
// so a multisession incident (accept, switch, close) replays the same way.
// The events the workspace raises as a consequence (onSessionCreated, …)
// are expected from the bridge, never raised by the replay itself. In full
// mode the replay's host peer answers the workspace calls as captured, so
// there the agent's actions are not repeated and the events are raised
// like any other.

// workspaceEvents are raised by the bridge's workspace itself: a replay
// expects them and does not raise them.
var workspaceEvents = map[string]bool{
	"cif.onSessionCreated": true, "cif.onSessionSwitched": true, "cif.onBeforeSessionClosed": true,
	"cif.onSessionClosed": true, "cif.onSetPresence": true, "cif.onMaxSessionsReached": true,
}

// panelEvents are raised by the workspace when the capture holds the
// agent's panel actions (then they are replayed, not raised).
var panelEvents = map[string]bool{"cif.onmodechanged": true, "cif.onsizechanged": true}

// raisedByBridge reports whether the bridge raises a captured event on its
// own when the replay repeats the widget's calls and the agent's actions.
func raisedByBridge(c *Capture, method string) bool {
	if workspaceEvents[method] {
		return true
	}
	if !panelEvents[method] {
		return false
	}
	for _, f := range c.Frames {
		if f.Peer == protocol.CapturePeerAgent && bytes.Contains(f.Msg, []byte(`"agent.panel"`)) {
			return true
		}
	}
	return false
}

// agentRequest is the admin call that repeats an agent action.
func agentRequest(base, session string, msg json.RawMessage) (path string, body any, ok bool) {
	var w struct {
		Params protocol.AgentAction `json:"params"` // what the bridge captured
	}
	if json.Unmarshal(msg, &w) != nil {
		return "", nil, false
	}
	a := w.Params
	ws := base + "/api/v1/sessions/" + session + "/workspace"
	switch a.Kind {
	case "notification":
		return ws + "/notifications/" + a.Target, map[string]string{"action": a.Action}, true
	case "focus", "close":
		return ws + "/sessions/" + a.Target + "/" + a.Kind, nil, true
	case "presence":
		return ws + "/presence", map[string]string{"presenceId": a.Target}, true
	case "panel":
		return ws + "/panel", map[string]*int{"mode": a.Mode, "width": a.Width}, true
	}
	return "", nil, false
}

// agent repeats a captured agent action. The workspace item it names may
// not exist yet when the replay runs faster than the capture (the widget's
// call that creates it is still on its way), so a 404 is retried briefly.
func (r *runner) agent(ctx context.Context, a action) {
	r.mu.Lock()
	sess := r.liveSession()
	r.mu.Unlock()
	path, body, ok := agentRequest("", sess, a.f.Msg)
	if !ok || r.admin == nil {
		return
	}
	raw := []byte("{}") // a state change carries a JSON body (the bridge's cross-site guard)
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	for try := 0; try < 100 && ctx.Err() == nil; try++ {
		err := r.admin.Do(ctx, http.MethodPost, path, raw, nil)
		notYet := err != nil && (errors.Is(err, client.ErrNotServed) || strings.Contains(err.Error(), "404 Not Found"))
		if !notYet || strings.HasSuffix(path, "/presence") {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}
