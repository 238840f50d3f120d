package workspace_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/workspace"
	"github.com/cifbridge/cifbridge/protocol"
)

// recorder collects the events a workspace raises.
type recorder struct {
	mu     sync.Mutex
	events []string // "name data"
}

func (r *recorder) raise(_ context.Context, _, name string, data json.RawMessage) {
	r.mu.Lock()
	r.events = append(r.events, name+" "+string(data))
	r.mu.Unlock()
}

// take returns the events raised so far and forgets them.
func (r *recorder) take(t *testing.T) []string {
	t.Helper()
	synctest.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func newWS(t *testing.T, tpl *workspace.Templates) (*workspace.Workspace, *recorder) {
	t.Helper()
	r := &recorder{}
	w := workspace.New("s1", tpl, r.raise, zerolog.Nop())
	t.Cleanup(w.Close)
	return w, r
}

func call(t *testing.T, ctx context.Context, w *workspace.Workspace, method string, params any) (string, error) {
	t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Execute(ctx, &correlation.Attempt{Session: "s1", Method: method, Params: raw})
	return string(res), err
}

func mustCall(t *testing.T, w *workspace.Workspace, method string, params any) string {
	t.Helper()
	res, err := call(t, t.Context(), w, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

func cifMessage(t *testing.T, err error) protocol.CIFMessage {
	t.Helper()
	var e *protocol.Error
	if !errors.As(err, &e) || e.Code != protocol.CodeBackend {
		t.Fatalf("err = %v, want a -32001 with CIF's {message,msdyn_name}", err)
	}
	var m protocol.CIFMessage
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatalf("data %s: %v", e.Data, err)
	}
	return m
}

func notify(template string, params map[string]any, token string) map[string]any {
	p := map[string]any{"input": map[string]any{"templateName": template, "templateParameters": params}}
	if token != "" {
		p["cancellationToken"] = token
	}
	return p
}

func want(action, reason string) string {
	b, _ := json.Marshal(protocol.NotifyEventResult{Value: protocol.NotificationResponse{ActionName: action, ResponseReason: reason}})
	return string(b)
}

// pendingID returns the id of the only pending notification.
func pendingID(t *testing.T, w *workspace.Workspace) string {
	t.Helper()
	var ids []string
	for _, n := range w.Snapshot().Notifications {
		if n.State == "pending" {
			ids = append(ids, n.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("pending notifications %v, want exactly one", ids)
	}
	return ids[0]
}

func TestNotificationOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		template string
		agent    string        // "accept", "reject" or "" (nobody answers)
		after    time.Duration // when the agent answers
		cancel   bool          // the widget cancels at `after` instead
		want     string
		elapsed  time.Duration
	}{
		{name: "agent accepts", template: "incoming_call", agent: "accept", after: 5 * time.Second, want: want("Accept", "Accept"), elapsed: 5 * time.Second},
		{name: "agent rejects", template: "incoming_call", agent: "reject", after: 29 * time.Second, want: want("Reject", "DeclinedByAgent"), elapsed: 29 * time.Second},
		{name: "template timeout", template: "incoming_call", want: want("Timeout", "DisplayTimeout"), elapsed: 30 * time.Second},
		{name: "default timeout is 120 s", template: "msdyn_chat_incoming_unauthenticated", want: want("Timeout", "DisplayTimeout"), elapsed: 120 * time.Second},
		{name: "auto accept", template: "incoming_call_autoaccept", want: want("Accept", "AutoAccept")},
		{name: "cancelEvent", template: "incoming_call", cancel: true, after: 3 * time.Second, want: want("Cancel", "CancelledByProvider"), elapsed: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, _ := newWS(t, nil)
				start := time.Now()
				done := make(chan string, 1)
				go func() {
					res, err := call(t, t.Context(), w, protocol.MethodNotifyEvent, notify(tt.template, map[string]any{"customer": "Ada"}, "tok-1"))
					if err != nil {
						res = err.Error()
					}
					done <- res
				}()
				synctest.Wait()
				if tt.agent != "" || tt.cancel {
					time.Sleep(tt.after)
					if tt.cancel {
						if res := mustCall(t, w, protocol.MethodCancelEvent, map[string]any{"cancellationToken": "tok-1"}); res != tt.want {
							t.Errorf("cancelEvent = %s, want %s", res, tt.want)
						}
					} else if err := w.Respond(pendingID(t, w), tt.agent); err != nil {
						t.Fatal(err)
					}
				}
				if got := <-done; got != tt.want {
					t.Errorf("notifyEvent = %s, want %s", got, tt.want)
				}
				if got := time.Since(start); got != tt.elapsed {
					t.Errorf("resolved after %v, want %v", got, tt.elapsed)
				}
				n := w.Snapshot().Notifications
				if len(n) != 1 || n[0].State == "pending" || n[0].TemplateName != tt.template {
					t.Errorf("notifications = %+v, want the one resolved", n)
				}
			})
		})
	}
}

func TestNotificationQueueLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := newWS(t, nil)
		results := make(chan string, 20)
		for range workspace.MaxPendingNotifications {
			go func() {
				res, _ := call(t, t.Context(), w, protocol.MethodNotifyEvent, notify("incoming_call", nil, ""))
				results <- res
			}()
		}
		synctest.Wait()
		start := time.Now()
		res := mustCall(t, w, protocol.MethodNotifyEvent, notify("incoming_call", nil, ""))
		if res != want("Reject", "NotificationQueueLimitExceeded") || time.Since(start) != 0 {
			t.Errorf("11th notifyEvent = %s after %v, want an immediate NotificationQueueLimitExceeded", res, time.Since(start))
		}
		if len(results) != 0 {
			t.Fatalf("%d of the first ten resolved early", len(results))
		}
		// One resolved makes room for the next.
		snap := w.Snapshot()
		if err := w.Respond(snap.Notifications[0].ID, "reject"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		go func() {
			res, _ := call(t, t.Context(), w, protocol.MethodNotifyEvent, notify("incoming_call", nil, ""))
			results <- res
		}()
		time.Sleep(31 * time.Second)
		timeouts := 0
		for range 11 {
			if r := <-results; r == want("Timeout", "DisplayTimeout") {
				timeouts++
			}
		}
		if timeouts != 10 {
			t.Errorf("%d notifications timed out, want 10 (9 left of the first ten, and the one queued after the reject)", timeouts)
		}
	})
}

func TestNotificationErrorsAndWithdraw(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := newWS(t, nil)
		_, err := call(t, t.Context(), w, protocol.MethodNotifyEvent, notify("nope", nil, ""))
		if m := cifMessage(t, err); m != (protocol.CIFMessage{Message: "NotificationTemplateNotFoundError", MsdynName: "NotifyEvent"}) {
			t.Errorf("unknown template: %+v", m)
		}
		_, err = call(t, t.Context(), w, protocol.MethodCancelEvent, map[string]any{"cancellationToken": "none"})
		if m := cifMessage(t, err); m.MsdynName != "CancelEvent" {
			t.Errorf("cancel of nothing: %+v", m)
		}
		if _, err := call(t, t.Context(), w, protocol.MethodNotifyEvent, map[string]any{"input": 5}); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("input 5: %v, want -32602", err)
		}
		ctx, cancel := context.WithTimeoutCause(t.Context(), time.Minute, errors.New("widget gone"))
		defer cancel()
		if _, err := call(t, ctx, w, protocol.MethodInsertNotes, map[string]any{"entityName": "contact", "entityId": "1"}); err == nil || err.Error() != "widget gone" {
			t.Errorf("insertNotes after the widget went: %v, want its cause", err)
		}
		n := w.Snapshot().Notifications[0]
		if n.Kind != "insertNotes" || n.State != "withdrawn" || n.ExpiresAt != nil {
			t.Errorf("withdrawn dialog = %+v", n)
		}
		if err := w.Respond(n.ID, "accept"); err != workspace.ErrConflict {
			t.Errorf("accepting a withdrawn dialog: %v, want ErrConflict", err)
		}
		if err := w.Respond("notification-999", "accept"); err != workspace.ErrNotFound {
			t.Errorf("unknown id: %v, want ErrNotFound", err)
		}
	})
}

func TestInsertNotes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := newWS(t, nil)
		for _, tt := range []struct{ action, want string }{
			{"accept", `{"entityName":"contact","entityId":"c1","annotationId":"a1"}`},
			{"reject", "The agent closed the notes dialog without saving."},
		} {
			done := make(chan string, 1)
			go func() {
				res, err := call(t, t.Context(), w, protocol.MethodInsertNotes, map[string]any{"entityName": "contact", "entitySetName": "contacts", "entityId": "c1", "annotationId": "a1"})
				if err != nil {
					res = cifMessage(t, err).Message
				}
				done <- res
			}()
			time.Sleep(time.Hour) // no timer: it waits for the agent
			if err := w.Respond(pendingID(t, w), tt.action); err != nil {
				t.Fatal(err)
			}
			if got := <-done; got != tt.want {
				t.Errorf("%s: got %s, want %s", tt.action, got, tt.want)
			}
		}
	})
}

func TestMaxSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tpl := workspace.DefaultTemplates()
		tpl.MaxSessions = 2
		w, rec := newWS(t, tpl)
		create := map[string]any{"input": map[string]any{"templateName": "call_session", "templateParameters": map[string]any{"customer": "Ada"}}}
		for i := range 2 {
			if res := mustCall(t, w, protocol.MethodCanCreateSession, nil); res != "true" {
				t.Fatalf("canCreateSession before session %d = %s", i+1, res)
			}
			mustCall(t, w, protocol.MethodCreateSession, create)
		}
		if res := mustCall(t, w, protocol.MethodCanCreateSession, nil); res != "false" {
			t.Errorf("canCreateSession at the limit = %s, want false", res)
		}
		rec.take(t)
		_, err := call(t, t.Context(), w, protocol.MethodCreateSession, create)
		if m := cifMessage(t, err); m.MsdynName != "createSession" {
			t.Errorf("createSession past the limit: %+v", m)
		}
		if ev := rec.take(t); len(ev) != 1 || ev[0] != `onMaxSessionsReached {"maxSessions":2,"sessions":["session-id-1","session-id-3"]}` {
			t.Errorf("events = %q", ev)
		}
		if all := mustCall(t, w, protocol.MethodGetAllSessions, nil); all != `["session-id-1","session-id-3"]` {
			t.Errorf("getAllSessions = %s", all)
		}
		// Closing one makes room again.
		if err := w.CloseSession("session-id-1"); err != nil {
			t.Fatal(err)
		}
		if res := mustCall(t, w, protocol.MethodCanCreateSession, nil); res != "true" {
			t.Errorf("canCreateSession after a close = %s", res)
		}
	})
}

func TestSessionFocusRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, rec := newWS(t, nil)
		if res := mustCall(t, w, protocol.MethodGetFocusedSession, nil); res != "null" {
			t.Errorf("getFocusedSession with only home = %s, want null", res)
		}
		create := func(customer string) string {
			var id string
			res := mustCall(t, w, protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "call_session", "templateParameters": map[string]any{"customer": customer}}})
			_ = json.Unmarshal([]byte(res), &id)
			return id
		}
		s1 := create("Ada")
		ctx := `"context":{"customer":"Ada"}`
		if ev := rec.take(t); !reflect.DeepEqual(ev, []string{
			`onSessionCreated {"sessionId":"` + s1 + `","focused":true,` + ctx + `}`,
			`onSessionSwitched {"sessionId":"` + s1 + `","focused":true,` + ctx + `}`,
		}) {
			t.Errorf("first session events = %q", ev)
		}
		s2 := create("Bob")
		if ev := rec.take(t); len(ev) != 3 || !strings.HasPrefix(ev[0], "onSessionCreated") ||
			ev[1] != `onSessionSwitched {"sessionId":"`+s1+`","focused":false,`+ctx+`}` || !strings.HasPrefix(ev[2], `onSessionSwitched {"sessionId":"`+s2+`","focused":true`) {
			t.Errorf("second session events = %q", ev)
		}
		if res := mustCall(t, w, protocol.MethodGetSession, map[string]any{"sessionId": s2}); !strings.Contains(res, `"isFocused":true`) || !strings.Contains(res, `"title":"Call from Bob"`) {
			t.Errorf("getSession = %s", res)
		}
		// requestFocusSession marks the unfocused session; the focus stays.
		mustCall(t, w, protocol.MethodRequestFocusSession, map[string]any{"sessionId": s1, "messagesCount": 3})
		if res := mustCall(t, w, protocol.MethodGetFocusedSession, nil); res != `"`+s2+`"` {
			t.Errorf("focus moved to %s on requestFocusSession", res)
		}
		if s := w.Snapshot().Sessions[1]; s.Unread != 3 || !s.FocusRequested {
			t.Errorf("requested session = %+v, want 3 unread", s)
		}
		if ev := rec.take(t); len(ev) != 0 {
			t.Errorf("requestFocusSession raised %q", ev)
		}
		// The agent focuses it: unread cleared.
		if err := w.Focus(s1); err != nil {
			t.Fatal(err)
		}
		if s := w.Snapshot().Sessions[1]; s.Unread != 0 || !s.Focused {
			t.Errorf("after focus = %+v", s)
		}
		if ev := rec.take(t); len(ev) != 2 || !strings.Contains(ev[0], s2+`","focused":false`) || !strings.Contains(ev[1], s1+`","focused":true`) {
			t.Errorf("focus events = %q", ev)
		}
		// Closing the focused one moves the focus to the other.
		if err := w.CloseSession(s1); err != nil {
			t.Fatal(err)
		}
		ev := rec.take(t)
		if len(ev) != 3 || !strings.HasPrefix(ev[0], `onBeforeSessionClosed {"sessionId":"`+s1+`","focused":true`) ||
			!strings.HasPrefix(ev[1], `onSessionClosed {"sessionId":"`+s1+`"`) || !strings.HasPrefix(ev[2], `onSessionSwitched {"sessionId":"`+s2+`","focused":true`) {
			t.Errorf("close events = %q", ev)
		}
		if err := w.CloseSession(workspace.HomeSessionID); err != workspace.ErrConflict {
			t.Errorf("closing home: %v", err)
		}
		if err := w.Focus("session-id-99"); err != workspace.ErrNotFound {
			t.Errorf("focusing nothing: %v", err)
		}
		_, err := call(t, t.Context(), w, protocol.MethodGetSession, map[string]any{"sessionId": s1})
		if m := cifMessage(t, err); m.MsdynName != "getSession" {
			t.Errorf("getSession of a closed session: %+v", m)
		}
		if title := mustCall(t, w, protocol.MethodSetSessionTitle, map[string]any{"input": map[string]any{"sessionId": s2, "customer": "Robert"}}); title != `"Call from Robert"` {
			t.Errorf("setSessionTitle by slug = %s", title)
		}
		if ctx := mustCall(t, w, protocol.MethodUpdateContext, map[string]any{"input": `{"ticket":"42"}`, "sessionId": s2}); ctx != `{"customer":"Bob","ticket":"42"}` {
			t.Errorf("updateContext = %s", ctx)
		}
		if ctx := mustCall(t, w, protocol.MethodUpdateContext, map[string]any{"input": map[string]any{"ticket": ""}, "isDelete": true}); ctx != `{"customer":"Bob"}` {
			t.Errorf("updateContext delete = %s", ctx)
		}
	})
}

func TestTabs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := newWS(t, nil)
		mustCall(t, w, protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "call_session", "templateParameters": map[string]any{"customer": "Ada"}}})
		anchor := strings.Trim(mustCall(t, w, protocol.MethodGetFocusedTab, nil), `"`)
		var contact, call2 string
		_ = json.Unmarshal([]byte(mustCall(t, w, protocol.MethodCreateTab, map[string]any{"input": map[string]any{"templateName": "contact_tab", "appContext": map[string]any{"customer": "Ada Lovelace"}, "isFocused": true}})), &contact)
		_ = json.Unmarshal([]byte(mustCall(t, w, protocol.MethodCreateTab, map[string]any{"input": `{"templateName":"phonecall_tab"}`})), &call2)
		if got := mustCall(t, w, protocol.MethodGetFocusedTab, nil); got != `"`+contact+`"` {
			t.Errorf("focused tab = %s, want the contact tab %s", got, contact)
		}
		if got := mustCall(t, w, protocol.MethodGetTabs, map[string]any{"templateTag": "record"}); got != `["`+contact+`","`+call2+`"]` {
			t.Errorf("getTabs by tag = %s", got)
		}
		if got := mustCall(t, w, protocol.MethodGetTabsByTagOrName, map[string]any{"templateName": "phonecall_tab"}); got != `["`+call2+`"]` {
			t.Errorf("getTabs by name = %s", got)
		}
		mustCall(t, w, protocol.MethodFocusTab, map[string]any{"tabId": call2})
		mustCall(t, w, protocol.MethodRefreshTab, map[string]any{"tabId": call2})
		if got := mustCall(t, w, protocol.MethodSetTabTitle, map[string]any{"tabId": call2, "input": map[string]any{"title": "Call 1"}}); got != `"Call 1"` {
			t.Errorf("setTabTitle = %s", got)
		}
		_, err := call(t, t.Context(), w, protocol.MethodCloseTab, map[string]any{"tabId": anchor})
		if m := cifMessage(t, err); m.MsdynName != "closeTab" {
			t.Errorf("closing the anchor tab: %+v", m)
		}
		mustCall(t, w, protocol.MethodCloseTab, map[string]any{"tabId": call2})
		tabs := w.Snapshot().Sessions[1].Tabs
		if len(tabs) != 2 || tabs[1].TabID != contact || !tabs[1].Focused || tabs[1].Title != "Ada Lovelace" || tabs[0].CanClose {
			t.Errorf("tabs after close = %+v", tabs)
		}
		// Tabs of another session are not reachable while it is not focused.
		if err := w.Focus(workspace.HomeSessionID); err != nil {
			t.Fatal(err)
		}
		_, err = call(t, t.Context(), w, protocol.MethodFocusTab, map[string]any{"tabId": contact})
		if m := cifMessage(t, err); m.MsdynName != "focusTab" {
			t.Errorf("focusTab outside the focused session: %+v", m)
		}
		_, err = call(t, t.Context(), w, protocol.MethodCreateTab, map[string]any{"input": map[string]any{"templateName": "nope"}})
		if m := cifMessage(t, err); m.MsdynName != "createTab" {
			t.Errorf("unknown tab template: %+v", m)
		}
		if _, err := call(t, t.Context(), w, protocol.MethodRefreshTab, map[string]any{"tabId": ""}); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("blank tabId: %v", err)
		}
	})
}

func TestPresence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, rec := newWS(t, nil)
		list := `[{"presenceId":"p1","presenceText":"Ready","presenceColor":"#0f0","basePresenceStatus":"Available"},{"presenceId":"p2","presenceText":"On a call","basePresenceStatus":"Busy"}]`
		if res := mustCall(t, w, protocol.MethodInitializeAgentPresenceList, map[string]any{"presenceList": json.RawMessage(list)}); res != "true" {
			t.Fatalf("initializeAgentPresenceList = %s", res)
		}
		if ev := rec.take(t); len(ev) != 1 || !strings.HasPrefix(ev[0], `onSetPresence {"presenceId":"p1"`) {
			t.Errorf("events = %q", ev)
		}
		if res := mustCall(t, w, protocol.MethodSetPresence, map[string]any{"presenceText": "on a call"}); res != "false" {
			t.Errorf("setPresence with the wrong case = %s, want false (exact match)", res)
		}
		if res := mustCall(t, w, protocol.MethodSetPresence, map[string]any{"presenceText": "On a call"}); res != "true" {
			t.Errorf("setPresence = %s", res)
		}
		if res := mustCall(t, w, protocol.MethodGetPresence, nil); res != `{"presenceId":"p2","presenceText":"On a call","basePresenceStatus":"Busy"}` {
			t.Errorf("getPresence = %s", res)
		}
		if res := mustCall(t, w, protocol.MethodSetAgentPresence, map[string]any{"presenceInfo": `{"presenceId":"p1"}`}); res != "true" {
			t.Errorf("setAgentPresence = %s", res)
		}
		rec.take(t)
		if err := w.SetPresence("p2"); err != nil {
			t.Fatal(err)
		}
		if ev := rec.take(t); len(ev) != 1 || ev[0] != `onSetPresence {"presenceId":"p2","presenceText":"On a call","basePresenceStatus":"Busy"}` {
			t.Errorf("agent presence events = %q", ev)
		}
		if err := w.SetPresence("nope"); err != workspace.ErrNotFound {
			t.Errorf("unknown presence: %v", err)
		}
		if _, err := call(t, t.Context(), w, protocol.MethodInitializeAgentPresenceList, map[string]any{"presenceList": []any{map[string]any{"presenceText": "x"}}}); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("presence without id: %v", err)
		}
	})
}

func TestPanelIndicatorsAndAnalytics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, rec := newWS(t, nil)
		mode, width := 0, 500
		if err := w.SetPanel(&mode, &width); err != nil {
			t.Fatal(err)
		}
		if ev := rec.take(t); !reflect.DeepEqual(ev, []string{`onmodechanged {"value":0}`, `onsizechanged {"value":500}`}) {
			t.Errorf("panel events = %q", ev)
		}
		bad := 3
		if err := w.SetPanel(&bad, nil); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("mode 3: %v", err)
		}
		var s string
		_ = json.Unmarshal([]byte(mustCall(t, w, protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "msdyn_chat_session"}})), &s)
		mustCall(t, w, protocol.MethodNotifyKpiBreach, map[string]any{"sessionId": s, "details": "wait time"})
		mustCall(t, w, protocol.MethodNotifyNewActivity, map[string]any{"sessionId": s, "count": 4})
		v := w.Snapshot().Sessions[1]
		if v.KpiBreach == nil || *v.KpiBreach != "wait time" || v.NewActivity != 4 {
			t.Errorf("indicators = %+v", v)
		}
		mustCall(t, w, protocol.MethodNotifyKpiBreach, map[string]any{"sessionId": s, "shouldReset": true})
		if v := w.Snapshot().Sessions[1]; v.KpiBreach != nil {
			t.Errorf("kpi not reset: %+v", v)
		}
		if _, err := call(t, t.Context(), w, protocol.MethodNotifyNewActivity, map[string]any{"sessionId": s}); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("notifyNewActivity without count: %v", err)
		}
		if res := mustCall(t, w, protocol.MethodUpdateConversation, map[string]any{"id": "c1", "data": map[string]any{"statuscode": 4}}); res != `{"msdyn_ocliveworkitemid":"c1","statuscode":4}` {
			t.Errorf("updateConversation = %s", res)
		}
		if res := mustCall(t, w, protocol.MethodLogAnalyticsEvent, map[string]any{"eventName": "hold", "data": map[string]any{"conversationId": "c1", "providerSessionId": "p"}}); res != `{"logged":true,"conversationId":"c1","eventName":"hold"}` {
			t.Errorf("logAnalyticsEvent = %s", res)
		}
		if _, err := call(t, t.Context(), w, protocol.MethodLogAnalyticsEvent, map[string]any{"eventName": "hold", "data": map[string]any{}}); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("logAnalyticsEvent without ids: %v", err)
		}
		if res := mustCall(t, w, protocol.MethodInitLogAnalytics, map[string]any{"data": `{"conversation":{"conversationId":"c1","session":{"providerSessionId":"p"}}}`}); res != `{"logged":true,"conversationId":"c1"}` {
			t.Errorf("initLogAnalytics = %s", res)
		}
		if res := mustCall(t, w, protocol.MethodIsConsoleApp, nil); res != "true" {
			t.Errorf("isConsoleApp = %s", res)
		}
		if res := mustCall(t, w, protocol.MethodOpenKBSearchControl, map[string]any{"searchString": "vpn"}); res != "true" {
			t.Errorf("openKBSearchControl = %s", res)
		}
	})
}

func TestLoadTemplates(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tpl, err := workspace.LoadTemplates(write("ok.json", `{"maxSessions":3,"notificationTemplates":[{"name":"incoming_call","title":"Ring {customer}","timeoutSeconds":5},{"name":"chat","title":"Chat"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if tpl.MaxSessions != 3 || len(tpl.Sessions) != len(workspace.DefaultTemplates().Sessions) {
		t.Errorf("merged = %+v", tpl)
	}
	var ring, chat bool
	for _, n := range tpl.Notifications {
		ring = ring || (n.Name == "incoming_call" && n.TimeoutSeconds == 5)
		chat = chat || n.Name == "chat"
	}
	if !ring || !chat {
		t.Errorf("notification templates = %+v", tpl.Notifications)
	}
	for name, body := range map[string]string{
		"unknown field":  `{"sessions":[]}`,
		"bad anchor":     `{"sessionTemplates":[{"name":"x","title":"x","anchorTab":"missing"}]}`,
		"max too big":    `{"maxSessions":1000}`,
		"max zero":       `{"maxSessions":0}`,
		"not json":       `{`,
		"negative limit": `{"notificationTemplates":[{"name":"n","timeoutSeconds":-1}]}`,
	} {
		if _, err := workspace.LoadTemplates(write("bad.json", body)); err == nil {
			t.Errorf("%s: loaded, want an error", name)
		}
	}
	if _, err := workspace.LoadTemplates(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file loaded")
	}
}

// TestBounds: a widget cannot grow its workspace without limit.
func TestBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := newWS(t, nil)
		mustCall(t, w, protocol.MethodCreateSession, map[string]any{"input": map[string]any{"templateName": "msdyn_chat_session"}})
		var err error
		for i := 0; err == nil && i < 100; i++ {
			_, err = call(t, t.Context(), w, protocol.MethodCreateTab, map[string]any{"input": map[string]any{"templateName": "msdyn_entityrecord"}})
		}
		if m := cifMessage(t, err); m.MsdynName != "createTab" {
			t.Errorf("tab limit: %+v", m)
		}
		if n := len(w.Snapshot().Sessions[1].Tabs); n != 50 {
			t.Errorf("%d tabs, want 50", n)
		}
		in := map[string]any{}
		for i := range 201 {
			in[strconv.Itoa(i)] = i
		}
		if _, err := call(t, t.Context(), w, protocol.MethodUpdateContext, map[string]any{"input": in}); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("201 context keys: %v", err)
		}
		if _, err := call(t, t.Context(), w, protocol.MethodUpdateConversation, map[string]any{"id": "c", "data": in}); !errors.Is(err, protocol.ErrInvalidParams) {
			t.Errorf("201 conversation fields: %v", err)
		}
	})
}

// TestCloseWithdrawsEveryPending: closing the workspace (its session
// ended) ends every waiting notifyEvent and insertNotes.
func TestCloseWithdrawsEveryPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := workspace.New("s1", nil, nil, zerolog.Nop())
		errs := make(chan error, 5)
		for i := range 5 {
			method, params := protocol.MethodNotifyEvent, any(notify("incoming_call", nil, ""))
			if i%2 == 1 {
				method, params = protocol.MethodInsertNotes, map[string]any{"entityName": "contact", "entityId": "c"}
			}
			go func() {
				_, err := call(t, t.Context(), w, method, params)
				errs <- err
			}()
		}
		synctest.Wait()
		w.Close()
		for range 5 {
			if err := <-errs; !errors.Is(err, protocol.ErrNoBackend) {
				t.Errorf("after close: %v, want -32002", err)
			}
		}
		for _, n := range w.Snapshot().Notifications {
			if n.State != "withdrawn" {
				t.Errorf("notification %s is %s after close", n.ID, n.State)
			}
		}
	})
}
