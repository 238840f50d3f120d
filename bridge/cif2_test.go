package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/workspace"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// widget is a widget connection that answers every event request the way
// the JS client does (success, null) and records it, so calls and events
// can interleave.
type widget struct {
	t  *testing.T
	ws *websocket.Conn

	mu      sync.Mutex
	seq     int
	pending map[string]chan reply
	events  []reply
	evCh    chan reply
}

func newWidget(t *testing.T, ws *websocket.Conn) *widget {
	w := &widget{t: t, ws: ws, pending: map[string]chan reply{}, evCh: make(chan reply, 100)}
	go w.read()
	return w
}

func (w *widget) read() {
	for {
		_, b, err := w.ws.Read(context.Background())
		if err != nil {
			return
		}
		var r reply
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		switch {
		case r.Method != "" && r.ID != nil: // an event request
			w.mu.Lock()
			w.events = append(w.events, r)
			w.mu.Unlock()
			w.evCh <- r
			_ = w.ws.Write(context.Background(), websocket.MessageText, protocol.AppendResponse(nil, r.ID, json.RawMessage("null"), nil))
		case r.Method != "": // a notification (bridge.late)
			w.mu.Lock()
			w.events = append(w.events, r)
			w.mu.Unlock()
			w.evCh <- r
		default:
			w.mu.Lock()
			ch := w.pending[string(r.ID)]
			delete(w.pending, string(r.ID))
			w.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		}
	}
}

// start sends a call and returns the channel its reply arrives on.
func (w *widget) start(method string, params any) chan reply {
	w.t.Helper()
	w.mu.Lock()
	w.seq++
	id := strconv.Itoa(w.seq)
	ch := make(chan reply, 1)
	w.pending[id] = ch
	w.mu.Unlock()
	var raw json.RawMessage
	if params != nil {
		raw = testutil.MustJSON(w.t, params)
	}
	if err := w.ws.Write(context.Background(), websocket.MessageText, protocol.AppendRequest(nil, json.RawMessage(id), method, raw)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
	return ch
}

func (w *widget) call(method string, params any) reply {
	w.t.Helper()
	select {
	case r := <-w.start(method, params):
		return r
	case <-time.After(10 * time.Second):
		w.t.Fatalf("%s: no reply", method)
		return reply{}
	}
}

// event waits for the next event or notification.
func (w *widget) event() reply {
	w.t.Helper()
	select {
	case r := <-w.evCh:
		return r
	case <-time.After(10 * time.Second):
		w.t.Fatal("no event")
		return reply{}
	}
}

// eventData is the eventData of an event request.
func eventData(t *testing.T, r reply) string {
	t.Helper()
	var p protocol.EventParams
	if err := json.Unmarshal(r.Params, &p); err != nil {
		t.Fatalf("event params %s: %v", r.Params, err)
	}
	return string(p.EventData)
}

func connectWidget(t *testing.T, tb *testBridge) (*widget, string) {
	t.Helper()
	w := newWidget(t, tb.dial(t, protocol.PathWidget, nil).ws)
	var h protocol.HelloResult
	okResult(t, w.call(protocol.MethodHello, map[string]any{"profile": "cif2"}), &h)
	return w, h.Session
}

func str(t *testing.T, r reply) string {
	t.Helper()
	var s string
	okResult(t, r, &s)
	return s
}

// TestCIF2MethodsOverWebSocket calls every method the workspace or the
// bridge answers through a real WebSocket, and checks that none is left out.
func TestCIF2MethodsOverWebSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{})
		w, sess := connectWidget(t, tb)
		called := map[string]bool{}
		ok := func(method string, params any) json.RawMessage {
			t.Helper()
			called[method] = true
			r := w.call(method, params)
			okResult(t, r, nil)
			return r.Result
		}
		cif := func(method string, params any, wantMsdyn string) {
			t.Helper()
			called[method] = true
			r := w.call(method, params)
			wantCode(t, r, protocol.CodeBackend)
			var m protocol.CIFMessage
			if json.Unmarshal(r.Error.Data, &m); m.MsdynName != wantMsdyn || m.Message == "" {
				t.Errorf("%s: error data %s, want msdyn_name %s", method, r.Error.Data, wantMsdyn)
			}
		}
		if got := string(ok(protocol.MethodCanCreateSession, nil)); got != "true" {
			t.Errorf("canCreateSession = %s", got)
		}
		if got := string(ok(protocol.MethodIsConsoleApp, nil)); got != "true" {
			t.Errorf("isConsoleApp = %s", got)
		}
		if got := string(ok(protocol.MethodGetFocusedSession, nil)); got != "null" {
			t.Errorf("getFocusedSession = %s", got)
		}
		var s1 string
		json.Unmarshal(ok(protocol.MethodCreateSession, map[string]any{"input": `{"templateName":"call_session","templateParameters":{"customer":"Ada"}}`, "providerSessionId": "call-1"}), &s1)
		for _, want := range []string{"onSessionCreated", "onSessionSwitched"} {
			if ev := w.event(); ev.Method != "cif."+want || !strings.Contains(eventData(t, ev), `"sessionId":"`+s1+`","focused":true`) {
				t.Errorf("event %s %s, want %s", ev.Method, ev.Params, want)
			}
		}
		if got := string(ok(protocol.MethodGetAllSessions, nil)); got != `["`+s1+`"]` {
			t.Errorf("getAllSessions = %s", got)
		}
		if got := string(ok(protocol.MethodGetSession, map[string]any{"sessionId": s1})); !strings.Contains(got, `"isFocused":true`) || !strings.Contains(got, `"providerSessionId":"call-1"`) {
			t.Errorf("getSession = %s", got)
		}
		ok(protocol.MethodRequestFocusSession, map[string]any{"sessionId": s1, "messagesCount": 2})
		if got := string(ok(protocol.MethodSetSessionTitle, map[string]any{"input": map[string]any{"sessionId": s1, "title": "Ada L."}})); got != `"Ada L."` {
			t.Errorf("setSessionTitle = %s", got)
		}
		if got := string(ok(protocol.MethodUpdateContext, map[string]any{"input": map[string]any{"ticket": 7}, "sessionId": s1})); got != `{"customer":"Ada","ticket":7}` {
			t.Errorf("updateContext = %s", got)
		}
		var tab string
		json.Unmarshal(ok(protocol.MethodCreateTab, map[string]any{"input": map[string]any{"templateName": "contact_tab", "appContext": map[string]any{"customer": "Ada"}}}), &tab)
		ok(protocol.MethodFocusTab, map[string]any{"tabId": tab})
		if got := string(ok(protocol.MethodGetFocusedTab, nil)); got != `"`+tab+`"` {
			t.Errorf("getFocusedTab = %s", got)
		}
		if got := string(ok(protocol.MethodGetTabs, map[string]any{"templateName": "contact_tab"})); got != `["`+tab+`"]` {
			t.Errorf("getTabs = %s", got)
		}
		if got := string(ok(protocol.MethodGetTabsByTagOrName, map[string]any{"templateTag": "contact"})); got != `["`+tab+`"]` {
			t.Errorf("getTabsByTagOrName = %s", got)
		}
		ok(protocol.MethodRefreshTab, map[string]any{"tabId": tab})
		ok(protocol.MethodSetTabTitle, map[string]any{"tabId": tab, "input": map[string]any{"title": "Contact"}})
		ok(protocol.MethodCloseTab, map[string]any{"tabId": tab})
		cif(protocol.MethodCloseTab, map[string]any{"tabId": tab}, "closeTab")
		ok(protocol.MethodNotifyKpiBreach, map[string]any{"sessionId": s1, "details": "SLA"})
		ok(protocol.MethodNotifyNewActivity, map[string]any{"sessionId": s1, "count": 1})
		if got := string(ok(protocol.MethodSetPresence, map[string]any{"presenceText": "Busy"})); got != "true" {
			t.Errorf("setPresence = %s", got)
		}
		if ev := w.event(); ev.Method != "cif.onSetPresence" || !strings.Contains(eventData(t, ev), `"presenceId":"busy"`) {
			t.Errorf("event %s %s", ev.Method, ev.Params)
		}
		if got := string(ok(protocol.MethodGetPresence, nil)); !strings.Contains(got, `"presenceText":"Busy"`) {
			t.Errorf("getPresence = %s", got)
		}
		ok(protocol.MethodInitializeAgentPresenceList, map[string]any{"presenceList": []any{map[string]any{"presenceId": "a", "presenceText": "Here"}, map[string]any{"presenceId": "b", "presenceText": "Gone"}}})
		w.event() // onSetPresence: the old presence is not in the new list
		if got := string(ok(protocol.MethodSetAgentPresence, map[string]any{"presenceInfo": map[string]any{"presenceId": "b"}})); got != "true" {
			t.Errorf("setAgentPresence = %s", got)
		}
		w.event()
		ok(protocol.MethodUpdateConversation, map[string]any{"id": "conv-1", "data": map[string]any{"statuscode": 2}})
		ok(protocol.MethodInitLogAnalytics, map[string]any{"data": map[string]any{"conversation": map[string]any{"conversationId": "conv-1", "session": map[string]any{"providerSessionId": "call-1"}}}})
		ok(protocol.MethodLogAnalyticsEvent, map[string]any{"eventName": "hold", "data": map[string]any{"conversationId": "conv-1", "providerSessionId": "call-1"}})
		ok(protocol.MethodOpenKBSearchControl, map[string]any{"searchString": "reset password"})

		// notifyEvent: the agent accepts through the admin API; cancelEvent.
		called[protocol.MethodNotifyEvent] = true
		ch := w.start(protocol.MethodNotifyEvent, map[string]any{"input": map[string]any{"templateName": "incoming_call", "templateParameters": map[string]any{"customer": "Bob"}}, "cancellationToken": "t1"})
		var snap workspace.Snapshot
		waitFor(t, func() bool {
			tb.httpJSON(t, "GET", "/api/v1/sessions/"+sess+"/workspace", nil, &snap)
			return len(snap.Notifications) == 1
		})
		if n := snap.Notifications[0]; n.State != "pending" || n.Title != "Incoming call from Bob" || n.RemainingMs == nil {
			t.Errorf("notification = %+v", n)
		}
		if code := tb.httpJSON(t, "POST", "/api/v1/sessions/"+sess+"/workspace/notifications/"+snap.Notifications[0].ID, map[string]any{"action": "accept"}, nil); code != 200 {
			t.Fatalf("accept: %d", code)
		}
		if r := <-ch; string(r.Result) != `{"value":{"actionName":"Accept","responseReason":"Accept"}}` {
			t.Errorf("notifyEvent = %s %+v", r.Result, r.Error)
		}
		ch = w.start(protocol.MethodNotifyEvent, map[string]any{"input": map[string]any{"templateName": "incoming_call"}, "cancellationToken": "t2"})
		waitFor(t, func() bool {
			tb.httpJSON(t, "GET", "/api/v1/sessions/"+sess+"/workspace", nil, &snap)
			return snap.Notifications[0].State == "pending"
		})
		if got := string(ok(protocol.MethodCancelEvent, map[string]any{"cancellationToken": "t2"})); got != `{"value":{"actionName":"Cancel","responseReason":"CancelledByProvider"}}` {
			t.Errorf("cancelEvent = %s", got)
		}
		<-ch
		cif(protocol.MethodNotifyEvent, map[string]any{"input": map[string]any{"templateName": "missing"}}, "NotifyEvent")

		// insertNotes: the agent saves the note.
		called[protocol.MethodInsertNotes] = true
		ch = w.start(protocol.MethodInsertNotes, map[string]any{"entityName": "phonecall", "entitySetName": "phonecalls", "entityId": "p1", "annotationId": "n1"})
		waitFor(t, func() bool {
			tb.httpJSON(t, "GET", "/api/v1/sessions/"+sess+"/workspace", nil, &snap)
			return snap.Notifications[0].Kind == "insertNotes"
		})
		tb.httpJSON(t, "POST", "/api/v1/sessions/"+sess+"/workspace/notifications/"+snap.Notifications[0].ID, map[string]any{"action": "accept"}, nil)
		if r := <-ch; string(r.Result) != `{"entityName":"phonecall","entityId":"p1","annotationId":"n1"}` {
			t.Errorf("insertNotes = %s %+v", r.Result, r.Error)
		}

		// raiseEvent goes back to the widget's own handlers.
		called[protocol.MethodRaiseEvent] = true
		ch = w.start(protocol.MethodRaiseEvent, map[string]any{"eventName": "oncustomevent", "eventInputParameters": "test input value"})
		if ev := w.event(); ev.Method != "cif.oncustomevent" || eventData(t, ev) != `"test input value"` {
			t.Errorf("raised %s %s", ev.Method, ev.Params)
		}
		if r := <-ch; string(r.Result) != "true" {
			t.Errorf("raiseEvent = %s %+v", r.Result, r.Error)
		}

		// CIF's telemetry correlationId is accepted (and dropped).
		okResult(t, w.call(protocol.MethodGetSession, map[string]any{"sessionId": s1, "correlationId": "c-1"}), nil)
		// Strict params: an unknown member is -32602, not passed on.
		wantCode(t, w.call(protocol.MethodCreateTab, map[string]any{"input": map[string]any{"templateName": "contact_tab"}, "typo": 1}), protocol.CodeInvalidParams)
		wantCode(t, w.call(protocol.MethodGetSession, []any{s1}), protocol.CodeInvalidParams)

		for _, spec := range protocol.CIFMethods {
			if (spec.Answer == protocol.AnswerWorkspace || spec.Answer == protocol.AnswerBridge) && !called[spec.Method] {
				t.Errorf("%s (%s) has no test here", spec.Method, spec.JS)
			}
		}
	})
}

// TestIsConsoleAppByProfile: a cif1 session is the classic app, a cif2 one
// a multisession console.
func TestIsConsoleAppByProfile(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	for profile, want := range map[string]string{"cif1": "false", "cif2": "true"} {
		w := newWidget(t, tb.dial(t, protocol.PathWidget, nil).ws)
		okResult(t, w.call(protocol.MethodHello, map[string]any{"profile": profile}), nil)
		if got := string(w.call(protocol.MethodIsConsoleApp, nil).Result); got != want {
			t.Errorf("%s: isConsoleApp = %s, want %s", profile, got, want)
		}
	}
}

// TestAgentAdminAPI plays the agent: focus, close, presence, panel, and the
// errors each path gives.
func TestAgentAdminAPI(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	w, sess := connectWidget(t, tb)
	base := "/api/v1/sessions/" + sess + "/workspace"
	var s1, s2 string
	json.Unmarshal(w.call(protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "call_session"}}).Result, &s1)
	json.Unmarshal(w.call(protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "msdyn_chat_session"}}).Result, &s2)
	for range 5 { // created 1, switched 1 true, created 2, switched 1 false, switched 2 true
		w.event()
	}
	var snap workspace.Snapshot
	if code := tb.httpJSON(t, "POST", base+"/sessions/"+s1+"/focus", nil, &snap); code != 200 || !snap.Sessions[1].Focused {
		t.Fatalf("focus: %d %+v", code, snap.Sessions)
	}
	if a, b := w.event(), w.event(); eventData(t, a) != `{"sessionId":"`+s2+`","focused":false,"context":{}}` || !strings.HasPrefix(eventData(t, b), `{"sessionId":"`+s1+`","focused":true`) {
		t.Errorf("switch events %s / %s", a.Params, b.Params)
	}
	if code := tb.httpJSON(t, "POST", base+"/sessions/"+s1+"/close", nil, &snap); code != 200 || len(snap.Sessions) != 2 || !snap.Sessions[1].Focused {
		t.Fatalf("close: %d %+v", code, snap.Sessions)
	}
	for _, want := range []string{"cif.onBeforeSessionClosed", "cif.onSessionClosed", "cif.onSessionSwitched"} {
		if ev := w.event(); ev.Method != want {
			t.Errorf("event %s, want %s", ev.Method, want)
		}
	}
	if code := tb.httpJSON(t, "POST", base+"/presence", map[string]any{"presenceId": "away"}, &snap); code != 200 || snap.Presence.PresenceID != "away" {
		t.Fatalf("presence: %d %+v", code, snap.Presence)
	}
	if ev := w.event(); ev.Method != "cif.onSetPresence" || eventData(t, ev) != `{"presenceId":"away","presenceText":"Away","presenceColor":"#FFD700","basePresenceStatus":"Away"}` {
		t.Errorf("presence event %s %s", ev.Method, ev.Params)
	}
	if code := tb.httpJSON(t, "POST", base+"/panel", map[string]any{"mode": 0, "width": 420}, nil); code != 200 {
		t.Fatalf("panel: %d", code)
	}
	if a, b := w.event(), w.event(); a.Method != "cif.onmodechanged" || eventData(t, a) != `{"value":0}` || b.Method != "cif.onsizechanged" {
		t.Errorf("panel events %s %s / %s", a.Method, a.Params, b.Method)
	}
	if got := string(w.call(protocol.MethodGetWidth, nil).Result); got != "420" {
		t.Errorf("getWidth after the agent's resize = %s, want 420", got)
	}
	var e struct {
		Error protocol.Error `json:"error"`
	}
	for _, tt := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/api/v1/sessions/nope/workspace", nil, 404},
		{"POST", base + "/sessions/session-id-99/focus", nil, 404},
		{"POST", base + "/sessions/" + workspace.HomeSessionID + "/close", nil, 409},
		{"POST", base + "/notifications/notification-99", map[string]any{"action": "accept"}, 404},
		{"POST", base + "/notifications/notification-99", map[string]any{"action": "maybe"}, 400},
		{"POST", base + "/notifications/notification-99", map[string]any{"acton": "accept"}, 400},
		{"POST", base + "/presence", map[string]any{"presenceId": "nope"}, 404},
		{"POST", base + "/presence", map[string]any{}, 400},
		{"POST", base + "/panel", map[string]any{"mode": 7}, 400},
	} {
		e.Error = protocol.Error{}
		if code := tb.httpJSON(t, tt.method, tt.path, tt.body, &e); code != tt.want || e.Error.Message == "" {
			t.Errorf("%s %s %v: %d %+v, want %d with a message", tt.method, tt.path, tt.body, code, e.Error, tt.want)
		}
	}
}

// TestAdminWorkspaceNeedsToken: the workspace paths take the admin token
// like the rest of /api/.
func TestAdminWorkspaceNeedsToken(t *testing.T) {
	tb := startBridge(t, bridge.Config{Token: "sekret"})
	for _, p := range []string{"/api/v1/sessions/x/workspace", "/api/v1/sessions/x/workspace/presence"} {
		method := "GET"
		if strings.HasSuffix(p, "presence") {
			method = "POST"
		}
		if code := tb.httpJSON(t, method, p, nil, nil); code != 401 {
			t.Errorf("%s %s without token: %d, want 401", method, p, code)
		}
	}
}

// TestClickToActOffAnsweredByBridge: after setClickToAct(false) an
// onclicktoact never reaches the widget; the bridge answers false.
func TestClickToActOffAnsweredByBridge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{})
		w, sess := connectWidget(t, tb)
		raise := func() string {
			var out struct {
				Result json.RawMessage `json:"result"`
			}
			tb.httpJSON(t, "POST", "/api/v1/sessions/"+sess+"/events", map[string]any{"eventType": "onclicktoact", "eventData": map[string]any{"value": "+358401234567"}}, &out)
			return string(out.Result)
		}
		if got := raise(); got != "null" {
			t.Errorf("with click-to-act on: %s, want the widget's answer null", got)
		}
		w.event()
		okResult(t, w.call(protocol.MethodSetClickToAct, map[string]any{"value": false}), nil)
		if got := raise(); got != "false" {
			t.Errorf("with click-to-act off: %s, want false", got)
		}
		synctest.Wait() // all the bridge would send has been sent
		select {
		case ev := <-w.evCh:
			t.Errorf("the widget got %s while click-to-act is off", ev.Method)
		default:
		}
	})
}

// TestHostPeerAnswersWorkspaceCalls: with a host peer serving the session,
// CIF 2.0 calls go to it (as requests whose params are a JSON object with
// the session added) and its answer is the widget's; without one the
// workspace answers.
func TestHostPeerAnswersWorkspaceCalls(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	w, sess := connectWidget(t, tb)
	okResult(t, w.call(protocol.MethodGetAllSessions, nil), nil) // the workspace, no host yet
	h := startHost(t, tb, []string{sess})
	r := w.call(protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "call_session"}})
	wantCode(t, r, protocol.CodeBackend)
	if !strings.Contains(r.Error.Message, "host cannot cif.createSession") {
		t.Errorf("error %+v, want the host's", r.Error)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) != 1 || h.seen[0] != sess {
		t.Errorf("host saw sessions %v, want [%s]", h.seen, sess)
	}
}

// TestNoTimeoutCalls: notifyEvent, insertNotes and openForm wait past the
// CIF timeout without -32000 or bridge.late; the safety limit ends them with
// -32008.
func TestNoTimeoutCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := newEmulator(t, &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "openform", LatencyMs: 25_000}}})
		tb := startBridgeInBubble(t, bridge.Config{Backend: emu, NoTimeoutLimit: 20 * time.Minute})
		w := newWidget(t, tb.dial(t, protocol.PathWidget, nil).ws)
		var hr protocol.HelloResult
		okResult(t, w.call(protocol.MethodHello, map[string]any{"profile": "cif1"}), &hr)
		start := time.Now()
		// openForm on a backend that takes 25 s: answered, no -32000.
		r := <-w.start(protocol.MethodOpenForm, map[string]any{"entityFormOptions": `{"entityName":"contact"}`})
		if r.Error != nil || time.Since(start) != 25*time.Second {
			t.Errorf("openForm = %s %+v after %v", r.Result, r.Error, time.Since(start))
		}
		start = time.Now()
		// The incoming_call template times out after 30 s: three CIF timeouts.
		r = <-w.start(protocol.MethodNotifyEvent, map[string]any{"input": map[string]any{"templateName": "incoming_call"}})
		if string(r.Result) != `{"value":{"actionName":"Timeout","responseReason":"DisplayTimeout"}}` || time.Since(start) != 30*time.Second {
			t.Errorf("notifyEvent = %s %+v after %v", r.Result, r.Error, time.Since(start))
		}
		// The agent saves a note after 15 minutes.
		start = time.Now()
		ch := w.start(protocol.MethodInsertNotes, map[string]any{"entityName": "contact", "entityId": "c1"})
		time.Sleep(15 * time.Minute)
		var snap workspace.Snapshot
		tb.httpJSON(t, "GET", "/api/v1/sessions/"+hr.Session+"/workspace", nil, &snap)
		id := snap.Notifications[0].ID
		if code := tb.httpJSON(t, "POST", "/api/v1/sessions/"+hr.Session+"/workspace/notifications/"+id, map[string]any{"action": "accept"}, nil); code != 200 {
			t.Fatalf("accept: %d", code)
		}
		if r := <-ch; r.Error != nil || time.Since(start) != 15*time.Minute {
			t.Errorf("insertNotes = %s %+v after %v", r.Result, r.Error, time.Since(start))
		}
		// Nobody answers: the safety limit ends it, not the CIF timeout.
		start = time.Now()
		r = <-w.start(protocol.MethodInsertNotes, map[string]any{"entityName": "contact", "entityId": "c1"})
		if r.Error == nil || r.Error.Code != protocol.CodeSafetyLimit || time.Since(start) != 20*time.Minute {
			t.Errorf("unanswered insertNotes = %+v after %v, want -32008 at 20m", r.Error, time.Since(start))
		}
		synctest.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, ev := range w.events {
			if ev.Method == protocol.NotifyLate {
				t.Errorf("a no-timeout call produced bridge.late %s", ev.Params)
			}
		}
	})
}

// TestWorkspaceWhateverTheBackend: the workspace answers CIF 2.0 calls on a
// backend that knows nothing of them (a real org: the dataverse backend).
func TestWorkspaceWhateverTheBackend(t *testing.T) {
	org := backend.Func{N: "dataverse", F: func(ctx context.Context, call *correlation.Attempt) (json.RawMessage, error) {
		return nil, protocol.Errorf(protocol.CodeMethodNotFound, "dataverse does not know %s", call.Method)
	}}
	tb := startBridge(t, bridge.Config{Backend: org})
	w, _ := connectWidget(t, tb)
	var id string
	okResult(t, w.call(protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "call_session"}}), &id)
	if id == "" {
		t.Fatal("no session id")
	}
	wantCode(t, w.call(protocol.MethodGetEnvironment, nil), protocol.CodeMethodNotFound) // CRUD still goes to the org
}

// TestNoTimeoutCallInListings: a call waiting for the agent is listed with
// noTimeout, and when its session ends the workspace goes with it.
func TestNoTimeoutCallInListings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{ResumeWindow: 50 * time.Millisecond})
		w, sess := connectWidget(t, tb)
		w.start(protocol.MethodNotifyEvent, map[string]any{"input": map[string]any{"templateName": "incoming_call"}})
		var info struct {
			InFlight []struct {
				Method    string `json:"method"`
				NoTimeout bool   `json:"noTimeout"`
			} `json:"inflight"`
		}
		waitFor(t, func() bool {
			tb.httpJSON(t, "GET", "/api/v1/sessions/"+sess, nil, &info)
			return len(info.InFlight) == 1
		})
		if !info.InFlight[0].NoTimeout || info.InFlight[0].Method != protocol.MethodNotifyEvent {
			t.Errorf("in flight = %+v, want notifyEvent with noTimeout", info.InFlight)
		}
		w.ws.CloseNow()
		time.Sleep(50 * time.Millisecond) // the resume window passes: the session ends
		waitFor(t, func() bool {
			return tb.httpJSON(t, "GET", "/api/v1/sessions/"+sess+"/workspace", nil, nil) == http.StatusNotFound
		})
		if n := len(tb.srv.Table().InFlight("")) + len(tb.srv.Table().Late("")); n != 0 {
			t.Errorf("%d attempts left after the session ended", n)
		}
	})
}

// TestStreamNoTimeoutCall: the dashboard stream marks a call that waits for
// the agent with noTimeout, so it shows "waiting for the agent", not a
// countdown to a CIF timeout.
func TestStreamNoTimeoutCall(t *testing.T) {
	tb := startBridge(t, bridge.Config{Token: streamToken})
	mountStream(tb)
	w := authDial(t, tb)
	s := hello(t, w).Session
	st := openStream(t, tb)
	w.send(`{"jsonrpc":"2.0","id":1,"method":"cif.notifyEvent","params":{"input":{"templateName":"incoming_call"}}}`)
	snap := st.waitFor("the notifyEvent in flight", func(x protocol.StreamSnapshot) bool { return sessionOf(x, s).InFlightCount == 1 })
	a := sessionOf(snap, s).InFlight[0]
	if !a.NoTimeout || a.Method != protocol.MethodNotifyEvent {
		t.Fatalf("in flight %+v, want notifyEvent with NoTimeout", a)
	}
}

// TestMetricLabelsBounded: an unknown cif.* method a widget makes up is
// counted under "other", never as a label of its own.
func TestMetricLabelsBounded(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	w, _ := connectWidget(t, tb)
	wantCode(t, w.call("cif.madeUpByTheWidget", nil), protocol.CodeMethodNotFound)
	okResult(t, w.call(protocol.MethodCanCreateSession, nil), nil)
	if m := metricsText(t, tb); strings.Contains(m, "madeUpByTheWidget") || !strings.Contains(m, `method="cif.canCreateSession"`) {
		t.Errorf("metrics labels: made-up method present or canCreateSession missing")
	}
}
