package protocol

import (
	"fmt"
	"strings"
	"time"
)

// Subprotocol is the WebSocket subprotocol of both endpoints. A client that
// offers none is accepted as well.
const Subprotocol = "cifbridge.v1"

// Paths served by the daemon.
const (
	PathWidget = "/v1/widget" // WebSocket for widget sessions
	PathHost   = "/v1/host"   // WebSocket for host peers
)

// CloseSessionMoved is the WebSocket close code a widget connection gets when
// another connection resumed its session (bridge.hello with the session's id
// and resumeToken): the session lives on there. A client should not
// reconnect and resume it again, or the two would take it from each other.
const CloseSessionMoved = 4001

// Widget → bridge methods.
const (
	// MethodHello {HelloParams} → HelloResult. Optional: a session exists from
	// connect. Resumes a session by id with its resumeToken (else -32004),
	// or picks the profile.
	MethodHello = "bridge.hello"

	// CIFPrefix + messageType is the raw CIF channel: one attempt under the
	// CIF timeout, the CIF result shape as result.
	CIFPrefix = "cif."

	MethodCreateRecord         = "cif.createrecord"         // CreateRecordParams → {entityType,id}
	MethodRetrieveRecord       = "cif.retrieverecord"       // RetrieveRecordParams → the record
	MethodUpdateRecord         = "cif.updaterecord"         // UpdateRecordParams → {entityType,id}
	MethodDeleteRecord         = "cif.deleterecord"         // RecordParams → {entityType,id}
	MethodSearch               = "cif.search"               // SearchParams → {"0":record,"1":…}
	MethodSearchAndOpenRecords = "cif.searchandopenrecords" // SearchParams → {"0":record,"1":…}
	MethodGetEnvironment       = "cif.getenvironment"       // {} → environment map
	MethodOpenForm             = "cif.openform"             // {entityFormOptions, entityFormParameters} → {savedEntityReference:[…]}
	MethodRefreshForm          = "cif.refreshform"          // {save} → {}
	MethodGetEntityMetadata    = "cif.getEntityMetadata"    // EntityMetadataParams → metadata
	MethodSetClickToAct        = "cif.setclicktoact"        // ValueParams(bool) → null
	MethodGetClickToAct        = "cif.getclicktoact"        // {} → bool
	MethodSetMode              = "cif.setmode"              // ValueParams(0|1|2) → null
	MethodGetMode              = "cif.getmode"              // {} → number
	MethodSetWidth             = "cif.setwidth"             // ValueParams(>=0) → null
	MethodGetWidth             = "cif.getwidth"             // {} → number
	MethodRenderSearchPage     = "cif.renderSearchPage"     // {entityName, searchString} → null

	// Enreach Voice for Dynamics API; enreach.xrm.* go through the retry engine.
	MethodEnreachExecuteQuery = "enreach.executeQuery"       // ExecuteQueryParams → parsed body
	MethodEnreachSetANumber   = "enreach.setANumber"         // SetANumberParams → parsed body
	MethodXrmCreateRecord     = "enreach.xrm.createRecord"   // XrmCreateParams → XrmCreateResult
	MethodXrmUpdateRecord     = "enreach.xrm.updateRecord"   // XrmUpdateParams → XrmUpdateResult
	MethodXrmRetrieveRecord   = "enreach.xrm.retrieveRecord" // XrmRetrieveParams → the record
	MethodXrmExecute          = "enreach.xrm.execute"        // XrmExecuteParams → parsed response body

	// BackendExecute is what enreach.xrm.execute sends to a backend for one
	// attempt (params XrmExecuteParams). Fault rules name it "execute".
	BackendExecute = "xrm.execute"
)

// Bridge → widget.
const (
	// EventPrefix + eventName (e.g. "cif.onclicktoact") is an event request
	// {eventData} the widget answers under the CIF timeout.
	EventPrefix = CIFPrefix

	NotifyLate   = "bridge.late"   // LateParams: a timed-out attempt was answered after all
	NotifyLedger = "bridge.ledger" // LedgerParams: a duplicate-ledger entry changed
)

// Host ↔ bridge.
const (
	MethodHostHello      = "host.hello"      // host → bridge: HostHelloParams → HostHelloResult
	MethodHostRaiseEvent = "host.raiseEvent" // host → bridge: RaiseEventParams → the widget's answer
)

// Profiles and their CIF timeouts in milliseconds.
const (
	ProfileCIF1 = "cif1" // CIF 1.0: 10 s
	ProfileCIF2 = "cif2" // CIF 2.0: 100 s

	TimeoutCIF1Ms = 10_000
	TimeoutCIF2Ms = 100_000
)

// ProfileTimeout returns the CIF timeout of a profile: 10 s for cif1, 100 s
// for cif2.
func ProfileTimeout(profile string) (time.Duration, error) {
	switch profile {
	case ProfileCIF1:
		return TimeoutCIF1Ms * time.Millisecond, nil
	case ProfileCIF2:
		return TimeoutCIF2Ms * time.Millisecond, nil
	}
	return 0, fmt.Errorf("unknown profile %q: use %q (10 s timeout) or %q (100 s)", profile, ProfileCIF1, ProfileCIF2)
}

// KnownEvents are the CIF event names a host or the admin API may raise.
var KnownEvents = []string{
	"onclicktoact", "onmodechanged", "onsizechanged", "onpagenavigate", "onsendkbarticle",
	"onSessionSwitched", "onSessionCreated", "onBeforeSessionClosed", "onSessionClosed",
	"onSetPresence", "onMaxSessionsReached", "onPresenceChange",
}

// MessageType returns the CIF messageType of a cif.* method ("createrecord"
// for "cif.createrecord"), or "" when method is not a cif.* method. Fault
// rules and metrics use it; BackendExecute maps to "execute".
func MessageType(method string) string {
	if method == BackendExecute {
		return "execute"
	}
	if t, ok := strings.CutPrefix(method, CIFPrefix); ok {
		return t
	}
	return ""
}
