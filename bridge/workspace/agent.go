package workspace

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// Snapshot is the agent's view of a workspace: GET
// /api/v1/sessions/{id}/workspace (docs/workspace.md).
type Snapshot struct {
	Sessions      []SessionView       `json:"sessions"`
	Notifications []NotificationView  `json:"notifications"` // pending first (oldest first), then the recent resolved ones (newest first)
	Presence      protocol.Presence   `json:"presence"`
	PresenceList  []protocol.Presence `json:"presenceList"`
	MaxSessions   int                 `json:"maxSessions"`
	CanCreate     bool                `json:"canCreateSession"`
	ClickToAct    bool                `json:"clickToAct"`
	Mode          int                 `json:"mode"`
	Width         float64             `json:"width"`
	Analytics     int                 `json:"analyticsEvents"`
	DroppedEvents int                 `json:"droppedEvents"`
}

// SessionView is one workspace session.
type SessionView struct {
	SessionID         string                     `json:"sessionId"`
	Title             string                     `json:"title"`
	TemplateName      string                     `json:"templateName"`
	Focused           bool                       `json:"focused"`
	Home              bool                       `json:"home,omitempty"`
	Unread            int                        `json:"unread"`
	FocusRequested    bool                       `json:"focusRequested"`
	NewActivity       int                        `json:"newActivity"`
	KpiBreach         *string                    `json:"kpiBreach"` // details; null when no breach is shown
	Context           map[string]json.RawMessage `json:"context"`
	ProviderSessionID string                     `json:"providerSessionId,omitempty"`
	Created           time.Time                  `json:"created"`
	Tabs              []TabView                  `json:"tabs"`
}

// TabView is one tab.
type TabView struct {
	TabID        string                     `json:"tabId"`
	Title        string                     `json:"title"`
	TemplateName string                     `json:"templateName"`
	Tags         []string                   `json:"tags"`
	Focused      bool                       `json:"focused"`
	CanClose     bool                       `json:"canClose"`
	Refreshes    int                        `json:"refreshes"`
	AppContext   map[string]json.RawMessage `json:"appContext"`
}

// NotificationView is one notification (or insertNotes dialog).
type NotificationView struct {
	ID                string            `json:"id"`
	Kind              string            `json:"kind"` // "notification" or "insertNotes"
	TemplateName      string            `json:"templateName"`
	Title             string            `json:"title"`
	Fields            map[string]string `json:"fields,omitempty"`
	State             string            `json:"state"` // pending, accepted, rejected, timedout, cancelled, withdrawn
	Created           time.Time         `json:"created"`
	ExpiresAt         *time.Time        `json:"expiresAt"`   // null: waits for the agent without a timer
	RemainingMs       *int64            `json:"remainingMs"` // while pending with a timer
	CancellationToken string            `json:"cancellationToken,omitempty"`
	ActionName        string            `json:"actionName,omitempty"`
	ResponseReason    string            `json:"responseReason,omitempty"`
}

// Snapshot returns the workspace as the agent sees it now.
func (w *Workspace) Snapshot() Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	snap := Snapshot{Presence: w.presence, PresenceList: slices.Clone(w.presenceList), MaxSessions: w.t.MaxSessions,
		CanCreate: w.providerCount() < w.t.MaxSessions, ClickToAct: w.clickToAct, Mode: w.mode, Width: w.width,
		Analytics: w.analytics, DroppedEvents: w.dropped, Sessions: []SessionView{}, Notifications: []NotificationView{}}
	for _, s := range w.sessions {
		v := SessionView{SessionID: s.id, Title: s.title, TemplateName: s.template, Focused: w.focused == s, Home: !s.provider(),
			Unread: s.unread, FocusRequested: s.focusRequested, NewActivity: s.newActivity, KpiBreach: s.kpiBreach,
			Context: nonNilMap(s.context), ProviderSessionID: s.providerSessionID, Created: s.created, Tabs: []TabView{}}
		for _, t := range s.tabs {
			v.Tabs = append(v.Tabs, TabView{TabID: t.id, Title: t.title, TemplateName: t.template, Tags: nonNilTags(t.tags),
				Focused: s.focusedTab == t, CanClose: !t.anchor, Refreshes: t.refreshes, AppContext: appContextOf(t)})
		}
		snap.Sessions = append(snap.Sessions, v)
	}
	for _, n := range w.notes {
		snap.Notifications = append(snap.Notifications, n.view(now))
	}
	for i := len(w.history) - 1; i >= 0; i-- {
		snap.Notifications = append(snap.Notifications, w.history[i].view(now))
	}
	return snap
}

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

func (n *notification) view(now time.Time) NotificationView {
	v := NotificationView{ID: n.id, Kind: n.kind, TemplateName: n.template, Title: n.title, Fields: n.fields, State: n.state,
		Created: n.created, CancellationToken: n.token, ActionName: n.resp.ActionName, ResponseReason: n.resp.ResponseReason}
	if !n.expires.IsZero() {
		e := n.expires
		v.ExpiresAt = &e
		if n.state == statePending {
			left := max(e.Sub(now).Milliseconds(), 0)
			v.RemainingMs = &left
		}
	}
	return v
}

// Focus is the agent focusing a workspace session (ErrNotFound when it
// does not exist); raises onSessionSwitched for the sessions that lose and
// gain the focus.
func (w *Workspace) Focus(sessionID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sessions {
		if s.id == sessionID {
			w.focusLocked(s)
			return nil
		}
	}
	return ErrNotFound
}

// CloseSession is the agent closing a provider session: onBeforeSessionClosed,
// then onSessionClosed; when it had the focus, the focus moves to the
// provider session opened before it, else the one opened after it, else
// home, with onSessionSwitched. ErrNotFound
// for an unknown id, ErrConflict for the home session.
func (w *Workspace) CloseSession(sessionID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := slices.IndexFunc(w.sessions, func(s *wsession) bool { return s.id == sessionID })
	if i < 0 {
		return ErrNotFound
	}
	s := w.sessions[i]
	if !s.provider() {
		return ErrConflict
	}
	focused := w.focused == s
	w.emitLocked("onBeforeSessionClosed", s.eventData(focused))
	w.sessions = slices.Delete(w.sessions, i, i+1)
	w.emitLocked("onSessionClosed", s.eventData(false))
	if focused {
		next := w.sessions[i-1] // home is first and never closed
		if !next.provider() && i < len(w.sessions) {
			next = w.sessions[i]
		}
		w.focused = nil
		w.focusLocked(next)
	}
	return nil
}

// PanelEventData is the eventData of onmodechanged and onsizechanged.
type PanelEventData struct {
	Value float64 `json:"value"`
}

// SetPanel is the agent changing the panel: mode (0 minimised, 1 docked,
// 2 hidden) and/or width; raises onmodechanged / onsizechanged for what
// changed.
func (w *Workspace) SetPanel(mode *int, width *int) error {
	if mode != nil && (*mode < 0 || *mode > 2) {
		return protocol.InvalidParams("\"mode\" must be 0 (minimised), 1 (docked) or 2 (hidden), got %d", *mode)
	}
	if width != nil && *width < 0 {
		return protocol.InvalidParams("\"width\" must be 0 or more, got %d", *width)
	}
	if mode == nil && width == nil {
		return protocol.InvalidParams("give \"mode\" and/or \"width\"")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if mode != nil && *mode != w.mode {
		w.mode = *mode
		w.emitLocked("onmodechanged", PanelEventData{Value: float64(*mode)})
	}
	if width != nil && float64(*width) != w.width {
		w.width = float64(*width)
		w.emitLocked("onsizechanged", PanelEventData{Value: float64(*width)})
	}
	return nil
}
