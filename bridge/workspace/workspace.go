package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// HomeSessionID is the id of the home session: always there, never the
// provider's, never closed, not counted against maxSessions.
const HomeSessionID = "session-id-0"

// Agent-action errors (the admin API maps them to 404 and 409).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("not possible in this state")
)

// RaiseFunc sends an event to the widget of session and returns once the
// widget answered (or the CIF timeout passed). ctx ends when the workspace
// closes.
type RaiseFunc func(ctx context.Context, session, event string, eventData json.RawMessage)

// eventQueueLen bounds the events waiting to be sent to one widget; past
// it an event is dropped and logged (a widget that answers nothing for
// minutes).
const eventQueueLen = 64

// historyLen is how many resolved notifications a workspace keeps to show.
const historyLen = 50

// Memory bounds of one workspace (a widget cannot grow it without limit).
const (
	maxConversations      = 100 // conversations updateConversation keeps
	maxConversationFields = 200 // fields per conversation
	maxTabsPerSession     = 50
	maxContextKeys        = 200 // keys of a session's context (updateContext)
)

// Workspace is the agent workspace of one widget session: its sessions,
// tabs, notifications and presence. Its methods are safe for concurrent use.
type Workspace struct {
	session string
	t       *Templates
	log     zerolog.Logger
	raise   RaiseFunc

	ctx    context.Context
	cancel context.CancelFunc
	events chan event
	loop   sync.WaitGroup

	// mu guards everything below.
	mu            sync.Mutex
	seq           int // ids of sessions, tabs and notifications
	sessions      []*wsession
	focused       *wsession
	notes         []*notification // pending, oldest first
	history       []*notification // resolved, newest last
	presenceList  []protocol.Presence
	presence      protocol.Presence
	clickToAct    bool
	mode          int
	width         float64
	conversations map[string]map[string]json.RawMessage
	analytics     int
	dropped       int
	closed        bool
}

type event struct {
	name string
	data json.RawMessage
}

type wsession struct {
	id, template, title string
	params              map[string]json.RawMessage
	context             map[string]json.RawMessage
	providerSessionID   string
	tabs                []*tab
	focusedTab          *tab
	unread              int
	focusRequested      bool
	newActivity         int
	kpiBreach           *string // details; nil when no breach is shown
	created             time.Time
}

type tab struct {
	id, template, title string
	tags                []string
	anchor              bool
	appContext          map[string]json.RawMessage
	refreshes           int
}

// New returns the workspace of one widget session. raise may be nil
// (events are then dropped). Close it when the session ends.
func New(session string, t *Templates, raise RaiseFunc, log zerolog.Logger) *Workspace {
	if t == nil {
		t = DefaultTemplates()
	}
	w := &Workspace{
		session: session, t: t, log: log, raise: raise,
		events:        make(chan event, eventQueueLen),
		presenceList:  append([]protocol.Presence(nil), t.Presences...),
		presence:      t.Presences[0],
		clickToAct:    true,
		mode:          1,
		width:         320,
		conversations: map[string]map[string]json.RawMessage{},
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	home := &wsession{id: HomeSessionID, template: "home", title: "Home", created: time.Now()}
	home.addTab(&tab{id: "tab-id-0", template: "msdyn_dashboard", title: "Dashboard", tags: []string{"home"}, anchor: true})
	w.sessions = []*wsession{home}
	w.focused = home
	w.loop.Add(1)
	go w.sendLoop()
	return w
}

// Close ends the workspace: pending notifications are withdrawn (their
// notifyEvent calls end), queued events are dropped. Idempotent.
func (w *Workspace) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	for _, n := range append([]*notification(nil), w.notes...) {
		w.resolveLocked(n, stateWithdrawn, protocol.NotificationResponse{})
	}
	w.mu.Unlock()
	w.cancel()
	w.loop.Wait()
}

func (w *Workspace) sendLoop() {
	defer w.loop.Done()
	for {
		select {
		case <-w.ctx.Done():
			return
		case ev := <-w.events:
			if w.raise != nil {
				w.raise(w.ctx, w.session, ev.name, ev.data)
			}
		}
	}
}

// emitLocked queues an event for the widget; mu is held, so events leave
// in the order the state changed.
func (w *Workspace) emitLocked(name string, data any) {
	if w.closed {
		return
	}
	raw, err := json.Marshal(data)
	if err != nil {
		w.log.Error().Err(err).Str("event", name).Msg("encode workspace event")
		return
	}
	select {
	case w.events <- event{name, raw}:
	default:
		w.dropped++
		w.log.Warn().Str("session", w.session).Str("event", name).Int("dropped", w.dropped).
			Msg("workspace event dropped: the widget has not answered the events before it")
	}
}

// SessionEventData is the eventData of onSessionCreated, onSessionSwitched,
// onBeforeSessionClosed and onSessionClosed.
type SessionEventData struct {
	SessionID string                     `json:"sessionId"`
	Focused   bool                       `json:"focused"`
	Context   map[string]json.RawMessage `json:"context"`
}

func (s *wsession) eventData(focused bool) SessionEventData {
	ctx := s.context
	if ctx == nil {
		ctx = map[string]json.RawMessage{}
	}
	return SessionEventData{SessionID: s.id, Focused: focused, Context: ctx}
}

func (s *wsession) provider() bool { return s.id != HomeSessionID }

func (s *wsession) addTab(t *tab) {
	s.tabs = append(s.tabs, t)
	if s.focusedTab == nil {
		s.focusedTab = t
	}
}

func (w *Workspace) nextID(prefix string) string {
	w.seq++
	return prefix + strconv.Itoa(w.seq)
}

// Name makes a Workspace usable where a backend.Backend is.
func (w *Workspace) Name() string { return "workspace" }

// Execute answers one CIF 2.0 call (see protocol.CIFMethods for the ones
// whose Answer is AnswerWorkspace). notifyEvent and insertNotes wait for the
// agent, or for ctx.
func (w *Workspace) Execute(ctx context.Context, call *correlation.Attempt) (json.RawMessage, error) {
	h, ok := handlers[call.Method]
	if !ok {
		return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: the agent workspace does not answer %q", call.Method)
	}
	res, err := h(w, ctx, call)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// handler answers one CIF 2.0 call; the adapters below build one from a
// method of Workspace.
type handler func(w *Workspace, ctx context.Context, call *correlation.Attempt) (any, error)

// waits adapts a method that takes call's params decoded into P (strictly;
// -32602 naming the problem) and may wait for the agent until ctx ends; it
// takes w.mu itself.
func waits[P any](f func(w *Workspace, ctx context.Context, p *P) (any, error)) handler {
	return func(w *Workspace, ctx context.Context, call *correlation.Attempt) (any, error) {
		p, err := backend.Params[P](call)
		if err != nil {
			return nil, err
		}
		return f(w, ctx, p)
	}
}

// locked adapts a method that takes call's params decoded into P and runs
// with w.mu held.
func locked[P any](f func(w *Workspace, p *P) (any, error)) handler {
	return waits(func(w *Workspace, _ context.Context, p *P) (any, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return f(w, p)
	})
}

// reads adapts a method that takes no params and reads the workspace with
// w.mu held.
func reads(f func(w *Workspace) any) handler {
	return func(w *Workspace, _ context.Context, _ *correlation.Attempt) (any, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return f(w), nil
	}
}

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		protocol.MethodCanCreateSession:            reads((*Workspace).canCreateSession),
		protocol.MethodCreateSession:               locked((*Workspace).createSession),
		protocol.MethodGetAllSessions:              reads((*Workspace).getAllSessions),
		protocol.MethodGetFocusedSession:           reads((*Workspace).getFocusedSession),
		protocol.MethodGetSession:                  locked((*Workspace).getSession),
		protocol.MethodRequestFocusSession:         locked((*Workspace).requestFocusSession),
		protocol.MethodSetSessionTitle:             locked((*Workspace).setSessionTitle),
		protocol.MethodUpdateContext:               locked((*Workspace).updateContext),
		protocol.MethodCreateTab:                   locked((*Workspace).createTab),
		protocol.MethodFocusTab:                    locked((*Workspace).focusTab),
		protocol.MethodGetFocusedTab:               reads((*Workspace).getFocusedTab),
		protocol.MethodGetTabs:                     locked((*Workspace).getTabs),
		protocol.MethodGetTabsByTagOrName:          locked((*Workspace).getTabs),
		protocol.MethodRefreshTab:                  locked((*Workspace).refreshTab),
		protocol.MethodSetTabTitle:                 locked((*Workspace).setTabTitle),
		protocol.MethodCloseTab:                    locked((*Workspace).closeTab),
		protocol.MethodNotifyEvent:                 waits((*Workspace).notifyEvent),
		protocol.MethodCancelEvent:                 locked((*Workspace).cancelEvent),
		protocol.MethodNotifyKpiBreach:             locked((*Workspace).notifyKpiBreach),
		protocol.MethodNotifyNewActivity:           locked((*Workspace).notifyNewActivity),
		protocol.MethodSetPresence:                 locked((*Workspace).setPresence),
		protocol.MethodGetPresence:                 reads((*Workspace).getPresence),
		protocol.MethodSetAgentPresence:            locked((*Workspace).setAgentPresence),
		protocol.MethodInitializeAgentPresenceList: locked((*Workspace).initializeAgentPresenceList),
		protocol.MethodInsertNotes:                 waits((*Workspace).insertNotes),
		protocol.MethodUpdateConversation:          locked((*Workspace).updateConversation),
		protocol.MethodInitLogAnalytics:            locked((*Workspace).initLogAnalytics),
		protocol.MethodLogAnalyticsEvent:           locked((*Workspace).logAnalyticsEvent),
		protocol.MethodIsConsoleApp:                reads((*Workspace).isConsoleApp),
		protocol.MethodOpenKBSearchControl:         locked((*Workspace).openKBSearchControl),
	}
}

// Answers reports whether the workspace answers method.
func Answers(method string) bool { _, ok := handlers[method]; return ok }

// ObservePanel records the panel state the widget set through the backend
// (cif.setclicktoact, cif.setmode, cif.setwidth succeeded with value).
func (w *Workspace) ObservePanel(method string, value json.RawMessage) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch method {
	case protocol.MethodSetClickToAct:
		var b bool
		if json.Unmarshal(value, &b) == nil {
			w.clickToAct = b
		}
	case protocol.MethodSetMode:
		var f float64
		if json.Unmarshal(value, &f) == nil {
			w.mode = int(f)
		}
	case protocol.MethodSetWidth:
		var f float64
		if json.Unmarshal(value, &f) == nil {
			w.width = f
		}
	}
}

// ClickToAct reports whether click-to-act is on (the widget's last
// setClickToAct; on by default, as CIF starts a provider).
func (w *Workspace) ClickToAct() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clickToAct
}

// cifErr is the {"message","msdyn_name"} rejection of api.
func cifErr(api, message string) error { return protocol.NewCIFMessageError(api, message, "") }

func (w *Workspace) providerSession(api, id string) (*wsession, error) {
	if id == "" {
		return nil, protocol.InvalidParams("\"sessionId\" is blank: provide the session id createSession returned")
	}
	for _, s := range w.sessions {
		if s.id == id && s.provider() {
			return s, nil
		}
	}
	return nil, cifErr(api, "The session "+strconv.Quote(id)+" does not exist or does not belong to the channel provider.")
}
