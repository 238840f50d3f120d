package workspace

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// MaxSessionsEventData is the eventData of onMaxSessionsReached.
type MaxSessionsEventData struct {
	MaxSessions int      `json:"maxSessions"`
	Sessions    []string `json:"sessions"`
}

// SessionInfo is what getSession resolves with.
type SessionInfo struct {
	SessionID         string                     `json:"sessionId"`
	Context           map[string]json.RawMessage `json:"context"`
	IsFocused         bool                       `json:"isFocused"`
	Title             string                     `json:"title"`
	TemplateName      string                     `json:"templateName"`
	ProviderSessionID string                     `json:"providerSessionId,omitempty"`
}

func (w *Workspace) providerCount() int {
	n := 0
	for _, s := range w.sessions {
		if s.provider() {
			n++
		}
	}
	return n
}

func (w *Workspace) providerIDs() []string {
	ids := []string{}
	for _, s := range w.sessions {
		if s.provider() {
			ids = append(ids, s.id)
		}
	}
	return ids
}

func (w *Workspace) canCreateSession() any {
	return w.providerCount() < w.t.MaxSessions
}

func (w *Workspace) createSession(p *protocol.CreateSessionParams) (any, error) {
	var in protocol.SessionInput
	if err := protocol.ObjectInput("input", p.Input, &in); err != nil {
		return nil, err
	}
	tpl, err := w.t.sessionFor(in)
	if err != nil {
		return nil, err
	}
	if n := w.providerCount(); n >= w.t.MaxSessions {
		w.emitLocked("onMaxSessionsReached", MaxSessionsEventData{MaxSessions: w.t.MaxSessions, Sessions: w.providerIDs()})
		return nil, cifErr("createSession", "The maximum number of sessions has been reached.")
	}
	globals := map[string]json.RawMessage{}
	for k, v := range in.TemplateParameters {
		if len(v) > 0 && v[0] != '{' {
			globals[k] = v
		}
	}
	s := &wsession{id: w.nextID("session-id-"), template: tpl.Name, params: globals,
		context: cloneMap(globals), providerSessionID: p.ProviderSessionID, created: time.Now()}
	s.title = fill(tpl.Title, globals)
	for i, name := range append([]string{tpl.AnchorTab}, tpl.Tabs...) {
		tt, _ := w.t.tab(name)
		params := globals
		if raw, ok := in.TemplateParameters[name]; ok {
			var own map[string]json.RawMessage
			if json.Unmarshal(raw, &own) == nil {
				params = mergeMaps(globals, own)
			}
		}
		s.addTab(&tab{id: w.nextID("tab-id-"), template: tt.Name, title: fill(tt.Title, params), tags: tt.Tags, anchor: i == 0, appContext: params})
	}
	w.sessions = append(w.sessions, s)
	w.emitLocked("onSessionCreated", s.eventData(true))
	w.focusLocked(s)
	return s.id, nil
}

// focusLocked moves the focus to s, raising onSessionSwitched for the
// provider sessions that lose and gain it.
func (w *Workspace) focusLocked(s *wsession) {
	if w.focused == s {
		return
	}
	if old := w.focused; old != nil && old.provider() {
		w.emitLocked("onSessionSwitched", old.eventData(false))
	}
	w.focused = s
	s.unread, s.focusRequested, s.newActivity = 0, false, 0
	if s.provider() {
		w.emitLocked("onSessionSwitched", s.eventData(true))
	}
}

func (w *Workspace) getAllSessions() any {
	return w.providerIDs()
}

func (w *Workspace) getFocusedSession() any {
	if !w.focused.provider() {
		return nil
	}
	return w.focused.id
}

func (w *Workspace) getSession(p *protocol.SessionIDParams) (any, error) {
	s, err := w.providerSession("getSession", p.SessionID)
	if err != nil {
		return nil, err
	}
	return SessionInfo{SessionID: s.id, Context: nonNilMap(s.context), IsFocused: w.focused == s, Title: s.title,
		TemplateName: s.template, ProviderSessionID: s.providerSessionID}, nil
}

// requestFocusSession asks for the agent's attention: a session that is not
// focused is marked with messagesCount unread messages (default 1) until
// the agent focuses it; the focus itself stays with the agent.
func (w *Workspace) requestFocusSession(p *protocol.RequestFocusSessionParams) (any, error) {
	count := 1
	if p.MessagesCount != nil {
		if *p.MessagesCount < 0 {
			return nil, protocol.InvalidParams("\"messagesCount\" must be 0 or more, got %d", *p.MessagesCount)
		}
		count = *p.MessagesCount
	}
	s, err := w.providerSession("requestFocusSession", p.SessionID)
	if err != nil {
		return nil, err
	}
	if w.focused != s {
		s.unread += count
		s.focusRequested = true
	}
	return nil, nil
}

func (w *Workspace) setSessionTitle(p *protocol.SetSessionTitleParams) (any, error) {
	var in map[string]json.RawMessage
	if err := protocol.ObjectInput("input", p.Input, &in); err != nil {
		return nil, err
	}
	var id, title string
	_ = json.Unmarshal(in["sessionId"], &id)
	_ = json.Unmarshal(in["title"], &title)
	s, err := w.providerSession("setSessionTitle", id)
	if err != nil {
		return nil, err
	}
	if title == "" {
		tpl, _ := w.t.session(s.template)
		title = fill(tpl.Title, in, s.params)
	}
	if strings.TrimSpace(title) == "" {
		return nil, protocol.InvalidParams("\"input\" gives no title: pass {\"sessionId\",\"title\"} or the template's title slugs")
	}
	s.title = title
	return title, nil
}

func (w *Workspace) updateContext(p *protocol.UpdateContextParams) (any, error) {
	var in map[string]json.RawMessage
	if err := protocol.ObjectInput("input", p.Input, &in); err != nil {
		return nil, err
	}
	s := w.focused
	if p.SessionID != "" {
		var err error
		if s, err = w.providerSession("updateContext", p.SessionID); err != nil {
			return nil, err
		}
	}
	if s.context == nil {
		s.context = map[string]json.RawMessage{}
	}
	for k, v := range in {
		if p.IsDelete {
			delete(s.context, k)
			continue
		}
		if _, ok := s.context[k]; !ok && len(s.context) >= maxContextKeys {
			return nil, protocol.InvalidParams("the session's context already has %d keys, the most the workspace keeps; delete some with isDelete", maxContextKeys)
		}
		s.context[k] = v
	}
	return s.context, nil
}

// sessionFor is the session template in names: by its name, else by its
// tag.
func (t *Templates) sessionFor(in protocol.SessionInput) (SessionTemplate, error) {
	if in.TemplateName == "" && in.TemplateTag == "" {
		return SessionTemplate{}, protocol.InvalidParams("\"input.templateName\" is blank: name a session template (e.g. \"call_session\")")
	}
	tpl, ok := t.session(in.TemplateName)
	if !ok && in.TemplateName == "" {
		tpl, ok = t.sessionByTag(in.TemplateTag)
	}
	if !ok {
		return SessionTemplate{}, cifErr("createSession", "The session template "+quoted(in.TemplateName, in.TemplateTag)+" was not found.")
	}
	return tpl, nil
}

func quoted(name, tag string) string {
	if name != "" {
		return `"` + name + `"`
	}
	return `with tag "` + tag + `"`
}

func cloneMap(m map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func mergeMaps(a, b map[string]json.RawMessage) map[string]json.RawMessage {
	out := cloneMap(a)
	for k, v := range b {
		out[k] = v
	}
	return out
}

func nonNilMap(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}
