package protocol

import (
	"encoding/json"
	"strings"
)

// CIF 2.0 methods (widget → bridge). Sessions, tabs, notifications and
// presence are answered by the bridge's agent workspace, unless a host peer
// serves the session (then it answers); see CIFMethods for who answers what
// and under which timeout.
const (
	MethodCanCreateSession    = "cif.canCreateSession"    // {} → bool
	MethodCreateSession       = "cif.createSession"       // CreateSessionParams → session id
	MethodGetAllSessions      = "cif.getAllSessions"      // {} → [session id…]
	MethodGetFocusedSession   = "cif.getFocusedSession"   // {} → session id, or null when the focused session is not the provider's
	MethodGetSession          = "cif.getSession"          // SessionIDParams → SessionInfo
	MethodRequestFocusSession = "cif.requestFocusSession" // RequestFocusSessionParams → null
	MethodSetSessionTitle     = "cif.setSessionTitle"     // SetSessionTitleParams → the title
	MethodUpdateContext       = "cif.updateContext"       // UpdateContextParams → the session's context

	MethodCreateTab          = "cif.createTab"          // CreateTabParams → tab id
	MethodFocusTab           = "cif.focusTab"           // TabIDParams → null
	MethodGetFocusedTab      = "cif.getFocusedTab"      // {} → tab id
	MethodGetTabs            = "cif.getTabs"            // GetTabsParams → [tab id…]
	MethodGetTabsByTagOrName = "cif.getTabsByTagOrName" // GetTabsParams → [tab id…] (the CIF library's messageType for getTabs)
	MethodRefreshTab         = "cif.refreshTab"         // TabIDParams → null
	MethodSetTabTitle        = "cif.setTabTitle"        // SetTabTitleParams → the title
	MethodCloseTab           = "cif.closeTab"           // TabIDParams → null

	MethodNotifyEvent       = "cif.notifyEvent"       // NotifyEventParams → NotifyEventResult (no CIF timeout: waits for the agent)
	MethodCancelEvent       = "cif.cancelEvent"       // CancelEventParams → NotifyEventResult
	MethodNotifyKpiBreach   = "cif.notifyKpiBreach"   // NotifyKpiBreachParams → null
	MethodNotifyNewActivity = "cif.notifyNewActivity" // NotifyNewActivityParams → null

	MethodSetPresence                 = "cif.setPresence"                 // SetPresenceParams → bool
	MethodGetPresence                 = "cif.getPresence"                 // {} → Presence
	MethodSetAgentPresence            = "cif.setAgentPresence"            // SetAgentPresenceParams → bool
	MethodInitializeAgentPresenceList = "cif.initializeAgentPresenceList" // InitializeAgentPresenceListParams → bool

	MethodInsertNotes         = "cif.insertNotes"         // InsertNotesParams → {annotationId,…} (no CIF timeout: waits for the agent)
	MethodUpdateConversation  = "cif.updateConversation"  // UpdateConversationParams → the stored conversation
	MethodRaiseEvent          = "cif.raiseEvent"          // RaiseEventCallParams → bool
	MethodLogAnalyticsEvent   = "cif.logAnalyticsEvent"   // LogAnalyticsEventParams → "success"-style string
	MethodInitLogAnalytics    = "cif.initLogAnalytics"    // InitLogAnalyticsParams → string
	MethodIsConsoleApp        = "cif.isConsoleApp"        // {} → bool
	MethodOpenKBSearchControl = "cif.openKBSearchControl" // OpenKBSearchControlParams → bool
)

// TimeoutClass says how long the bridge waits for the answer to a method.
type TimeoutClass string

const (
	// TimeoutCIF: the session's CIF timeout (10 s cif1, 100 s cif2); past it
	// -32000 and a late record.
	TimeoutCIF TimeoutClass = "cif"
	// TimeoutNone: CIF posts the call without a timer (it waits for the
	// agent). The bridge applies only its safety limit (--notimeout-limit,
	// default 30 min) and ends the call when the session ends; never -32000,
	// never a late record.
	TimeoutNone TimeoutClass = "noTimeout"
	// TimeoutClient: handled by the JS client alone; never on the wire.
	TimeoutClient TimeoutClass = "client"
)

// Answerer says who answers a method.
type Answerer string

const (
	AnswerBackend   Answerer = "backend"   // the session's backend: emulator, dataverse or host peer
	AnswerWorkspace Answerer = "workspace" // the agent workspace, or a host peer serving the session
	AnswerBridge    Answerer = "bridge"    // the bridge itself (raiseEvent: back to the widget's handlers)
	AnswerClient    Answerer = "client"    // the JS client (addHandler, removeHandler)
)

// MethodSpec describes one CIF method: its wire name, the JS name on
// Microsoft.CIFramework, the CIF versions that have it, its params type
// (a nil pointer of it, for documentation and decoding), its timeout class
// and who answers it.
type MethodSpec struct {
	Method   string       // wire method, "cif.<messageType>"; "" for client-only methods
	JS       string       // Microsoft.CIFramework.<JS>
	Versions string       // "1,2" or "2"
	Params   any          // nil pointer of the params type, or nil for {}
	Result   string       // what the widget's promise resolves with
	Timeout  TimeoutClass // TimeoutCIF, TimeoutNone or TimeoutClient
	Answer   Answerer
}

// CIFMethods is every method of CIF 1.0 and 2.0, in the order of the
// reference. It drives validation, routing, the README table and the JS
// client's method list.
var CIFMethods = []MethodSpec{
	{MethodCreateRecord, "createRecord", "1,2", (*CreateRecordParams)(nil), `JSON string {"entityType","id"}`, TimeoutCIF, AnswerBackend},
	{MethodRetrieveRecord, "retrieveRecord", "1,2", (*RetrieveRecordParams)(nil), "JSON string of the record", TimeoutCIF, AnswerBackend},
	{MethodUpdateRecord, "updateRecord", "1,2", (*UpdateRecordParams)(nil), `JSON string {"entityType","id"}`, TimeoutCIF, AnswerBackend},
	{MethodDeleteRecord, "deleteRecord", "1,2", (*RecordParams)(nil), `JSON string {"entityType","id"}`, TimeoutCIF, AnswerBackend},
	{MethodSearchAndOpenRecords, "searchAndOpenRecords", "1,2", (*SearchParams)(nil), `JSON string {"0":record,…}`, TimeoutCIF, AnswerBackend},
	{MethodSearch, "searchAndOpenRecords (searchOnly)", "1,2", (*SearchParams)(nil), `JSON string {"0":record,…}`, TimeoutCIF, AnswerBackend},
	{MethodGetEnvironment, "getEnvironment", "1,2", nil, "JSON string of the environment", TimeoutCIF, AnswerBackend},
	{MethodGetEntityMetadata, "getEntityMetadata", "1,2", (*EntityMetadataParams)(nil), "JSON string of the metadata", TimeoutCIF, AnswerBackend},
	{MethodOpenForm, "openForm", "1,2", (*OpenFormParams)(nil), `JSON string {"savedEntityReference":[…]}`, TimeoutNone, AnswerBackend},
	{MethodRefreshForm, "refreshForm", "1,2", nil, "JSON string", TimeoutCIF, AnswerBackend},
	{MethodRenderSearchPage, "renderSearchPage", "1,2", nil, "undefined", TimeoutCIF, AnswerBackend},
	{MethodSetClickToAct, "setClickToAct", "1,2", (*ValueParams)(nil), "undefined", TimeoutCIF, AnswerBackend},
	{MethodGetClickToAct, "getClickToAct", "1,2", nil, "boolean", TimeoutCIF, AnswerBackend},
	{MethodSetMode, "setMode", "1,2", (*ValueParams)(nil), "undefined", TimeoutCIF, AnswerBackend},
	{MethodGetMode, "getMode", "1,2", nil, "number", TimeoutCIF, AnswerBackend},
	{MethodSetWidth, "setWidth", "1,2", (*ValueParams)(nil), "undefined", TimeoutCIF, AnswerBackend},
	{MethodGetWidth, "getWidth", "1,2", nil, "number", TimeoutCIF, AnswerBackend},
	{"", "addHandler", "1,2", nil, "undefined", TimeoutClient, AnswerClient},
	{"", "removeHandler", "1,2", nil, "undefined", TimeoutClient, AnswerClient},
	{MethodRaiseEvent, "raiseEvent", "1,2", (*RaiseEventCallParams)(nil), "boolean", TimeoutCIF, AnswerBridge},
	{MethodUpdateContext, "updateContext", "1,2", (*UpdateContextParams)(nil), "JSON string of the session's context", TimeoutCIF, AnswerWorkspace},

	{MethodCanCreateSession, "canCreateSession", "2", nil, "boolean", TimeoutCIF, AnswerWorkspace},
	{MethodCreateSession, "createSession", "2", (*CreateSessionParams)(nil), "session id (string)", TimeoutCIF, AnswerWorkspace},
	{MethodGetAllSessions, "getAllSessions", "2", nil, "array of session ids", TimeoutCIF, AnswerWorkspace},
	{MethodGetFocusedSession, "getFocusedSession", "2", nil, "session id (string) or null", TimeoutCIF, AnswerWorkspace},
	{MethodGetSession, "getSession", "2", (*SessionIDParams)(nil), "object {sessionId, context, isFocused, …}", TimeoutCIF, AnswerWorkspace},
	{MethodRequestFocusSession, "requestFocusSession", "2", (*RequestFocusSessionParams)(nil), "undefined", TimeoutCIF, AnswerWorkspace},
	{MethodSetSessionTitle, "setSessionTitle", "2", (*SetSessionTitleParams)(nil), "undefined (as CIF's reference; the wire result is the new title)", TimeoutCIF, AnswerWorkspace},
	{MethodCreateTab, "createTab", "2", (*CreateTabParams)(nil), "tab id (string)", TimeoutCIF, AnswerWorkspace},
	{MethodFocusTab, "focusTab", "2", (*TabIDParams)(nil), "undefined", TimeoutCIF, AnswerWorkspace},
	{MethodGetFocusedTab, "getFocusedTab", "2", nil, "tab id (string)", TimeoutCIF, AnswerWorkspace},
	{MethodGetTabs, "getTabs", "2", (*GetTabsParams)(nil), "array of tab ids", TimeoutCIF, AnswerWorkspace},
	{MethodGetTabsByTagOrName, "getTabs (library messageType)", "2", (*GetTabsParams)(nil), "array of tab ids", TimeoutCIF, AnswerWorkspace},
	{MethodRefreshTab, "refreshTab", "2", (*TabIDParams)(nil), "undefined", TimeoutCIF, AnswerWorkspace},
	{MethodSetTabTitle, "setTabTitle", "2", (*SetTabTitleParams)(nil), "the title (string)", TimeoutCIF, AnswerWorkspace},
	{MethodCloseTab, "closeTab", "2", (*TabIDParams)(nil), "undefined", TimeoutCIF, AnswerWorkspace},
	{MethodNotifyEvent, "notifyEvent", "2", (*NotifyEventParams)(nil), `JSON string {"value":{"actionName","responseReason"}}`, TimeoutNone, AnswerWorkspace},
	{MethodCancelEvent, "cancelEvent", "2", (*CancelEventParams)(nil), `JSON string {"value":{"actionName","responseReason"}}`, TimeoutCIF, AnswerWorkspace},
	{MethodNotifyKpiBreach, "notifyKpiBreach", "2", (*NotifyKpiBreachParams)(nil), "undefined", TimeoutCIF, AnswerWorkspace},
	{MethodNotifyNewActivity, "notifyNewActivity", "2", (*NotifyNewActivityParams)(nil), "undefined", TimeoutCIF, AnswerWorkspace},
	{MethodSetPresence, "setPresence", "2", (*SetPresenceParams)(nil), "boolean", TimeoutCIF, AnswerWorkspace},
	{MethodGetPresence, "getPresence", "2", nil, "JSON string of the presence {presenceId, presenceText, presenceColor, basePresenceStatus}", TimeoutCIF, AnswerWorkspace},
	{MethodSetAgentPresence, "setAgentPresence", "2", (*SetAgentPresenceParams)(nil), "boolean", TimeoutCIF, AnswerWorkspace},
	{MethodInitializeAgentPresenceList, "initializeAgentPresenceList", "2", (*InitializeAgentPresenceListParams)(nil), "boolean", TimeoutCIF, AnswerWorkspace},
	{MethodInsertNotes, "insertNotes", "2", (*InsertNotesParams)(nil), `JSON string {"entityName","entityId","annotationId"}`, TimeoutNone, AnswerWorkspace},
	{MethodUpdateConversation, "updateConversation", "2", (*UpdateConversationParams)(nil), "JSON string of the conversation", TimeoutCIF, AnswerWorkspace},
	{MethodInitLogAnalytics, "initLogAnalytics", "2", (*InitLogAnalyticsParams)(nil), "JSON string", TimeoutCIF, AnswerWorkspace},
	{MethodLogAnalyticsEvent, "logAnalyticsEvent", "2", (*LogAnalyticsEventParams)(nil), "JSON string", TimeoutCIF, AnswerWorkspace},
	{MethodIsConsoleApp, "isConsoleApp", "2", nil, "boolean", TimeoutCIF, AnswerWorkspace},
	{MethodOpenKBSearchControl, "openKBSearchControl", "2", (*OpenKBSearchControlParams)(nil), "boolean", TimeoutCIF, AnswerWorkspace},
}

var methodSpecs = func() map[string]*MethodSpec {
	m := make(map[string]*MethodSpec, len(CIFMethods))
	for i := range CIFMethods {
		if CIFMethods[i].Method != "" {
			m[CIFMethods[i].Method] = &CIFMethods[i]
		}
	}
	return m
}()

// CIFMethod returns the spec of a wire method, or nil when it is not one.
func CIFMethod(method string) *MethodSpec { return methodSpecs[method] }

// EventSpec describes one CIF event (bridge → widget request
// cif.<Name> {eventData}).
type EventSpec struct {
	Name      string // the addHandler name, as CIF raises it
	Versions  string
	EventData string // its shape
	RaisedBy  string // what makes cifbridge raise it
	// Local: a DOM event the JS client dispatches itself, never on the wire.
	Local bool
}

// CIFEvents is every event of CIF 1.0 and 2.0. Every event travels under
// the CIF timeout.
var CIFEvents = []EventSpec{
	{"onclicktoact", "1,2", `JSON string {"value","name","format","entityLogicalName"}`, "host.raiseEvent or POST /api/v1/sessions/{id}/events; answered false by the bridge while click-to-act is off", false},
	{"onmodechanged", "1,2", `JSON string {"value":0|1|2}`, "the agent (POST …/workspace/panel), host.raiseEvent or POST …/events", false},
	{"onsizechanged", "1,2", `JSON string {"value":width}`, "the agent (POST …/workspace/panel), host.raiseEvent or POST …/events", false},
	{"onpagenavigate", "1,2", "JSON string of the page", "host.raiseEvent or POST …/events", false},
	{"onsendkbarticle", "1,2", "JSON string of the article", "host.raiseEvent or POST …/events", false},
	{"onSessionCreated", "2", `JSON string {"sessionId","focused","context"}`, "the workspace: createSession", false},
	{"onSessionSwitched", "2", `JSON string {"sessionId","focused","context"}`, "the workspace: a session gains or loses focus (createSession, agent focus, close)", false},
	{"onBeforeSessionClosed", "2", `JSON string {"sessionId","focused","context"}`, "the workspace: the agent closes a session", false},
	{"onSessionClosed", "2", `JSON string {"sessionId","focused","context"}`, "the workspace: the agent closed a session", false},
	{"onSetPresence", "2", `JSON string {"presenceId","presenceText","presenceColor","basePresenceStatus"}`, "the workspace: presence changed (agent or setPresence/setAgentPresence)", false},
	{"onMaxSessionsReached", "2", `JSON string {"maxSessions","sessions"}`, "the workspace: createSession at the session limit", false},
	{"onPresenceChange", "2", "as onSetPresence", "host.raiseEvent or POST …/events (the reference's name; the workspace raises onSetPresence)", false},
	{"CIFInitDone", "1,2", "CustomEvent detail: [bridge origin]", "the JS client's install(), on window, once Microsoft.CIFramework is in place", true},
}

// OpenFormParams are the params of cif.openform. Both members are CIF's
// JSON strings (or objects).
type OpenFormParams struct {
	EntityFormOptions    json.RawMessage `json:"entityFormOptions,omitempty"`
	EntityFormParameters json.RawMessage `json:"entityFormParameters,omitempty"`
}

// SessionInput is the input of createSession (and the shape setTabTitle and
// setSessionTitle share): the template and its parameters.
type SessionInput struct {
	TemplateName       string                     `json:"templateName"`
	TemplateTag        string                     `json:"templateTag,omitempty"`
	TemplateParameters map[string]json.RawMessage `json:"templateParameters,omitempty"`
}

// CreateSessionParams are the params of cif.createSession. Input is the
// JSON input (an object, or a JSON string holding one, as CIF takes it).
type CreateSessionParams struct {
	Input             json.RawMessage `json:"input"`
	ProviderSessionID string          `json:"providerSessionId,omitempty"`
}

// SessionIDParams name one workspace session: cif.getSession.
type SessionIDParams struct {
	SessionID string `json:"sessionId"`
}

// RequestFocusSessionParams are the params of cif.requestFocusSession.
type RequestFocusSessionParams struct {
	SessionID     string `json:"sessionId"`
	MessagesCount *int   `json:"messagesCount,omitempty"`
}

// SetSessionTitleParams are the params of cif.setSessionTitle: input holds
// sessionId and either title or the slug values of the template's title
// ("Call from {customer}" with {"customer":"John"}).
type SetSessionTitleParams struct {
	Input json.RawMessage `json:"input"`
}

// UpdateContextParams are the params of cif.updateContext.
type UpdateContextParams struct {
	Input     json.RawMessage `json:"input"`
	SessionID string          `json:"sessionId,omitempty"` // default: the focused session
	IsDelete  bool            `json:"isDelete,omitempty"`
}

// TabInput is the input of createTab.
type TabInput struct {
	TemplateName string                     `json:"templateName"`
	AppContext   map[string]json.RawMessage `json:"appContext,omitempty"`
	IsFocused    *bool                      `json:"isFocused,omitempty"`
}

// CreateTabParams are the params of cif.createTab.
type CreateTabParams struct {
	Input json.RawMessage `json:"input"`
}

// TabIDParams name one tab: cif.focusTab, cif.refreshTab, cif.closeTab.
type TabIDParams struct {
	TabID string `json:"tabId"`
}

// GetTabsParams are the params of cif.getTabs: tabs of the focused session
// from the template templateName or carrying the tag templateTag (both
// optional; none lists every tab).
type GetTabsParams struct {
	TemplateName string `json:"templateName,omitempty"`
	TemplateTag  string `json:"templateTag,omitempty"`
}

// SetTabTitleParams are the params of cif.setTabTitle: input is {"title"}.
type SetTabTitleParams struct {
	TabID string          `json:"tabId"`
	Input json.RawMessage `json:"input"`
}

// NotificationInput is the input of notifyEvent.
type NotificationInput struct {
	TemplateName         string                     `json:"templateName"`
	TemplateParameters   map[string]json.RawMessage `json:"templateParameters,omitempty"`
	EventType            string                     `json:"eventType,omitempty"`
	TemplateNameResolver string                     `json:"templateNameResolver,omitempty"`
	NotificationUXObject json.RawMessage            `json:"notificationUXObject,omitempty"`
}

// NotifyEventParams are the params of cif.notifyEvent.
type NotifyEventParams struct {
	Input             json.RawMessage `json:"input"`
	CancellationToken string          `json:"cancellationToken,omitempty"`
}

// CancelEventParams are the params of cif.cancelEvent.
type CancelEventParams struct {
	CancellationToken string `json:"cancellationToken"`
}

// NotifyEventResult is what notifyEvent resolves with (as a JSON string in
// the JS client): {"value":{"actionName","responseReason"}}.
type NotifyEventResult struct {
	Value NotificationResponse `json:"value"`
}

// NotificationResponse is one of the actionName/responseReason pairs of the
// notifyEvent reference.
type NotificationResponse struct {
	ActionName     string `json:"actionName"`
	ResponseReason string `json:"responseReason"`
}

// The notifyEvent outcomes: actionName values and responseReason values.
const (
	ActionAccept  = "Accept"
	ActionReject  = "Reject"
	ActionTimeout = "Timeout"
	// ActionCancel is cifbridge's answer to a notification withdrawn with
	// cancelEvent; the reference lists no pair for it.
	ActionCancel = "Cancel"

	ReasonAccept                             = "Accept"
	ReasonAutoAccept                         = "AutoAccept"
	ReasonDeclinedByAgent                    = "DeclinedByAgent"
	ReasonNotificationQueueLimitExceeded     = "NotificationQueueLimitExceeded"
	ReasonNotificationQueueTimeLimitExceeded = "NotificationQueueTimeLimitExceeded"
	ReasonDisplayTimeout                     = "DisplayTimeout"
	ReasonCancelledByProvider                = "CancelledByProvider"
)

// NotifyKpiBreachParams are the params of cif.notifyKpiBreach.
type NotifyKpiBreachParams struct {
	SessionID   string `json:"sessionId"`
	ShouldReset bool   `json:"shouldReset,omitempty"`
	Details     string `json:"details,omitempty"`
}

// NotifyNewActivityParams are the params of cif.notifyNewActivity.
type NotifyNewActivityParams struct {
	SessionID string `json:"sessionId"`
	Count     *int   `json:"count"`
}

// Presence is one agent presence.
type Presence struct {
	PresenceID         string `json:"presenceId"`
	PresenceText       string `json:"presenceText"`
	PresenceColor      string `json:"presenceColor,omitempty"`
	BasePresenceStatus string `json:"basePresenceStatus,omitempty"`
}

// SetPresenceParams are the params of cif.setPresence: the presence text,
// matched exactly against the presence list.
type SetPresenceParams struct {
	PresenceText string `json:"presenceText"`
}

// SetAgentPresenceParams are the params of cif.setAgentPresence.
type SetAgentPresenceParams struct {
	PresenceInfo json.RawMessage `json:"presenceInfo"`
}

// InitializeAgentPresenceListParams are the params of
// cif.initializeAgentPresenceList.
type InitializeAgentPresenceListParams struct {
	PresenceList json.RawMessage `json:"presenceList"`
}

// InsertNotesParams are the params of cif.insertNotes.
type InsertNotesParams struct {
	EntityName    string `json:"entityName"`
	EntitySetName string `json:"entitySetName,omitempty"`
	EntityID      string `json:"entityId"`
	AnnotationID  string `json:"annotationId,omitempty"`
}

// UpdateConversationParams are the params of cif.updateConversation.
type UpdateConversationParams struct {
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// RaiseEventCallParams are the params of cif.raiseEvent (widget → main
// page): the bridge raises the event back to the widget's own handlers.
type RaiseEventCallParams struct {
	EventName            string          `json:"eventName"`
	EventInputParameters json.RawMessage `json:"eventInputParameters,omitempty"`
}

// InitLogAnalyticsParams are the params of cif.initLogAnalytics.
type InitLogAnalyticsParams struct {
	Data json.RawMessage `json:"data"`
}

// LogAnalyticsEventParams are the params of cif.logAnalyticsEvent.
type LogAnalyticsEventParams struct {
	Data      json.RawMessage `json:"data"`
	EventName string          `json:"eventName"`
}

// OpenKBSearchControlParams are the params of cif.openKBSearchControl.
type OpenKBSearchControlParams struct {
	SearchString string `json:"searchString"`
}

// ObjectInput decodes a CIF "JSON input" member (an object, or a JSON string
// holding one) into v; -32602 naming field when it is neither.
func ObjectInput(field string, raw json.RawMessage, v any) error {
	obj, err := NormalizeInput(field, raw)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(obj, v); err != nil {
		return InvalidParams("%q: %v", field, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// NormalizeInput returns a CIF "JSON input" member as a JSON object: an
// object as it is, a JSON string holding an object unwrapped.
func NormalizeInput(field string, raw json.RawMessage) (json.RawMessage, error) {
	return normalizeObject(field, raw, "provide the JSON input object", "must be a JSON object (or a JSON string holding one)")
}

// CIFMessage is the error CIF's host rejects a CIF 2.0 call with:
// {"message","msdyn_name"} (e.g. {"message":"NotificationTemplateNotFoundError",
// "msdyn_name":"NotifyEvent"}). It travels as the data of a -32001 error.
type CIFMessage struct {
	Message   string `json:"message"`
	MsdynName string `json:"msdyn_name"`
}

// NewCIFMessageError returns the -32001 error whose data is CIF's
// {"message","msdyn_name"}; the JSON-RPC message adds detail for logs.
func NewCIFMessageError(msdynName, message, detail string) *Error {
	text := message
	if detail != "" {
		text += ": " + detail
	}
	return NewError(CodeBackend, text, CIFMessage{Message: message, MsdynName: msdynName})
}
