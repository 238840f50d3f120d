package workspace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// SessionTemplate is a session template: what createSession opens.
type SessionTemplate struct {
	Name string `json:"name"`
	// Title may hold {slug} placeholders filled from templateParameters
	// (and later from setSessionTitle's input), e.g. "Call from {customer}".
	Title string `json:"title"`
	Tag   string `json:"tag,omitempty"`
	// AnchorTab is the tab template of the session's first tab, which the
	// agent cannot close; Tabs are further tabs opened with it.
	AnchorTab string   `json:"anchorTab"`
	Tabs      []string `json:"tabs,omitempty"`
}

// TabTemplate is an application tab template.
type TabTemplate struct {
	Name  string   `json:"name"`
	Title string   `json:"title"` // may hold {slug} placeholders filled from appContext
	Tags  []string `json:"tags,omitempty"`
	// PageType is what the tab shows: "entityrecord", "search", "dashboard",
	// "webresource", … (informational).
	PageType string `json:"pageType,omitempty"`
}

// NotificationTemplate is a notification template: what notifyEvent shows.
type NotificationTemplate struct {
	Name  string `json:"name"`
	Title string `json:"title"` // may hold {slug} placeholders filled from templateParameters
	// Fields are label → value lines of the toast; values may hold {slug}.
	Fields map[string]string `json:"fields,omitempty"`
	// TimeoutSeconds is how long the toast waits for the agent before the
	// notification resolves Timeout/DisplayTimeout. Default 120.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
	// AutoAccept resolves the notification Accept/AutoAccept at once.
	AutoAccept bool `json:"autoAccept,omitempty"`
}

// Templates are every template a workspace knows, plus its limits and the
// initial presence list.
type Templates struct {
	// MaxSessions is the most provider sessions open at once. Default 10.
	MaxSessions   int                    `json:"maxSessions,omitempty"`
	Sessions      []SessionTemplate      `json:"sessionTemplates,omitempty"`
	Tabs          []TabTemplate          `json:"tabTemplates,omitempty"`
	Notifications []NotificationTemplate `json:"notificationTemplates,omitempty"`
	// Presences is the agent's presence list until the widget calls
	// initializeAgentPresenceList; the first one is the initial presence.
	Presences []protocol.Presence `json:"presences,omitempty"`
}

// Limits.
const (
	DefaultMaxSessions         = 10
	MaxPendingNotifications    = 10 // the reference: the 11th is rejected NotificationQueueLimitExceeded
	DefaultNotificationTimeout = 120
)

// DefaultTemplates are the built-in templates: the reference's examples
// (msdyn_chat_session, msdyn_test_entity, msdyn_chat_incoming_unauthenticated)
// and an incoming voice call (incoming_call notification, call_session
// session with a contact tab and a phone call tab).
func DefaultTemplates() *Templates {
	return &Templates{
		MaxSessions: DefaultMaxSessions,
		Sessions: []SessionTemplate{
			{Name: "msdyn_chat_session", Title: "{customer}", AnchorTab: "msdyn_entity_search"},
			{Name: "call_session", Title: "Call from {customer}", Tag: "voice", AnchorTab: "msdyn_entity_search"},
			{Name: "msdyn_default_session", Title: "Session", AnchorTab: "msdyn_dashboard"},
		},
		Tabs: []TabTemplate{
			{Name: "msdyn_entity_search", Title: "Search", Tags: []string{"search"}, PageType: "search"},
			{Name: "msdyn_dashboard", Title: "Dashboard", Tags: []string{"home"}, PageType: "dashboard"},
			{Name: "msdyn_test_entity", Title: "{etn}", Tags: []string{"record"}, PageType: "entityrecord"},
			{Name: "msdyn_entityrecord", Title: "{etn}", Tags: []string{"record"}, PageType: "entityrecord"},
			{Name: "contact_tab", Title: "{customer}", Tags: []string{"record", "contact"}, PageType: "entityrecord"},
			{Name: "phonecall_tab", Title: "Phone call", Tags: []string{"record", "phonecall"}, PageType: "entityrecord"},
		},
		Notifications: []NotificationTemplate{
			{Name: "msdyn_chat_incoming_unauthenticated", Title: "Incoming conversation", Fields: map[string]string{"Customer": "{customer}"},
				TimeoutSeconds: DefaultNotificationTimeout},
			{Name: "incoming_call", Title: "Incoming call from {customer}", Fields: map[string]string{"Number": "{number}", "Queue": "{queue}"},
				TimeoutSeconds: 30},
			{Name: "incoming_call_autoaccept", Title: "Call from {customer}", Fields: map[string]string{"Number": "{number}"},
				TimeoutSeconds: 30, AutoAccept: true},
		},
		Presences: []protocol.Presence{
			{PresenceID: "available", PresenceText: "Available", PresenceColor: "#00FF00", BasePresenceStatus: "Available"},
			{PresenceID: "busy", PresenceText: "Busy", PresenceColor: "#FF0000", BasePresenceStatus: "Busy"},
			{PresenceID: "busy-dnd", PresenceText: "Do not disturb", PresenceColor: "#FF0000", BasePresenceStatus: "Busy - DND"},
			{PresenceID: "away", PresenceText: "Away", PresenceColor: "#FFD700", BasePresenceStatus: "Away"},
			{PresenceID: "offline", PresenceText: "Offline", PresenceColor: "#808080", BasePresenceStatus: "Offline"},
		},
	}
}

// LoadTemplates reads a templates file (the Templates JSON shape) and lays
// it over the defaults: a template with a built-in's name replaces it,
// others are added; maxSessions and presences replace the defaults when
// given.
func LoadTemplates(path string) (*Templates, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read workspace templates: %w", err)
	}
	var f Templates
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("workspace templates %s: %w (want {\"maxSessions\",\"sessionTemplates\",\"tabTemplates\",\"notificationTemplates\",\"presences\"})", path, err)
	}
	// A maxSessions written in the file replaces the default even when it is
	// 0, so Validate refuses it instead of the default taking its place.
	var given struct {
		MaxSessions *int `json:"maxSessions"`
	}
	if err := json.Unmarshal(b, &given); err != nil {
		return nil, fmt.Errorf("workspace templates %s: %w", path, err)
	}
	t := DefaultTemplates()
	if given.MaxSessions != nil {
		t.MaxSessions = *given.MaxSessions
	}
	t.Sessions = merge(t.Sessions, f.Sessions, func(s SessionTemplate) string { return s.Name })
	t.Tabs = merge(t.Tabs, f.Tabs, func(s TabTemplate) string { return s.Name })
	t.Notifications = merge(t.Notifications, f.Notifications, func(s NotificationTemplate) string { return s.Name })
	if len(f.Presences) > 0 {
		t.Presences = f.Presences
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("workspace templates %s: %w", path, err)
	}
	return t, nil
}

func merge[T any](base, over []T, name func(T) string) []T {
	out := append([]T(nil), base...)
	for _, o := range over {
		replaced := false
		for i := range out {
			if name(out[i]) == name(o) {
				out[i], replaced = o, true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// Validate checks names, references and limits.
func (t *Templates) Validate() error {
	if t.MaxSessions < 1 || t.MaxSessions > 100 {
		return fmt.Errorf("maxSessions must be between 1 and 100, got %d", t.MaxSessions)
	}
	tabs := map[string]bool{}
	for _, x := range t.Tabs {
		if strings.TrimSpace(x.Name) == "" {
			return fmt.Errorf("a tab template has no name")
		}
		tabs[x.Name] = true
	}
	for _, s := range t.Sessions {
		if strings.TrimSpace(s.Name) == "" {
			return fmt.Errorf("a session template has no name")
		}
		if !tabs[s.AnchorTab] {
			return fmt.Errorf("session template %q: anchorTab %q is not a tab template", s.Name, s.AnchorTab)
		}
		for _, tab := range s.Tabs {
			if !tabs[tab] {
				return fmt.Errorf("session template %q: tab %q is not a tab template", s.Name, tab)
			}
		}
	}
	for _, n := range t.Notifications {
		if strings.TrimSpace(n.Name) == "" {
			return fmt.Errorf("a notification template has no name")
		}
		if n.TimeoutSeconds < 0 || n.TimeoutSeconds > 24*3600 {
			return fmt.Errorf("notification template %q: timeoutSeconds must be between 0 and 86400", n.Name)
		}
	}
	if len(t.Presences) == 0 {
		return fmt.Errorf("the presence list is empty")
	}
	return nil
}

// named returns the template of list whose name is name.
func named[T any](list []T, name string, nameOf func(T) string) (T, bool) {
	i := slices.IndexFunc(list, func(x T) bool { return nameOf(x) == name })
	if i < 0 {
		var zero T
		return zero, false
	}
	return list[i], true
}

func (t *Templates) session(name string) (SessionTemplate, bool) {
	return named(t.Sessions, name, func(s SessionTemplate) string { return s.Name })
}

func (t *Templates) sessionByTag(tag string) (SessionTemplate, bool) {
	if tag == "" {
		return SessionTemplate{}, false
	}
	return named(t.Sessions, tag, func(s SessionTemplate) string { return s.Tag })
}

func (t *Templates) tab(name string) (TabTemplate, bool) {
	return named(t.Tabs, name, func(s TabTemplate) string { return s.Name })
}

func (t *Templates) notification(name string) (NotificationTemplate, bool) {
	return named(t.Notifications, name, func(s NotificationTemplate) string { return s.Name })
}

var slugRE = regexp.MustCompile(`\{([A-Za-z0-9_.]+)\}`)

// fill replaces {slug} in s with params[slug] (a JSON string's text, or
// any other JSON value as written); unknown slugs stay as they are.
func fill(s string, params ...map[string]json.RawMessage) string {
	return slugRE.ReplaceAllStringFunc(s, func(m string) string {
		key := m[1 : len(m)-1]
		for _, p := range params {
			if v, ok := p[key]; ok {
				var str string
				if json.Unmarshal(v, &str) == nil {
					return str
				}
				return string(bytes.TrimSpace(v))
			}
		}
		return m
	})
}
