package protocol

import (
	"encoding/json"
	"time"
)

// The admin API's shapes (REST under /api/v1/, the dashboard's event
// stream). The daemon builds them and tools (load, replay, bench, the Go
// client) read them, so they live in the wire contract.

// Admin API paths.
const (
	PathSessions       = "/api/v1/sessions"        // GET → SessionList
	PathStatus         = "/api/v1/status"          // GET → Status
	PathLedger         = "/api/v1/ledger"          // GET ?session=&status=&limit= → LedgerList
	PathEmulatorStats  = "/api/v1/emulator/stats"  // GET → EmulatorStats
	PathEmulatorFaults = "/api/v1/emulator/faults" // GET, PUT a fault profile
)

// Health is GET /livez (status, version) and GET /readyz: "ok",
// "draining" or "backend unavailable" with the backend's name, its error,
// and with host peers their count.
type Health struct {
	Backend string `json:"backend,omitempty"`
	Error   string `json:"error,omitempty"`
	Hosts   *int   `json:"hosts,omitempty"`
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
}

// RaiseEventResult is the answer of POST /api/v1/sessions/{id}/events
// (params RaiseEventParams): the widget's answer to the event.
type RaiseEventResult struct {
	Result json.RawMessage `json:"result"`
}

// AttemptInfo is one backend attempt as the admin API and the dashboard
// show it: in flight, or a late record once its CIF timeout passed.
type AttemptInfo struct {
	ID           string          `json:"id"`
	Session      string          `json:"session"`
	Method       string          `json:"method"`
	RequestID    json.RawMessage `json:"requestId,omitempty"`
	WidgetMethod string          `json:"widgetMethod,omitempty"`
	Started      time.Time       `json:"started"`
	Deadline     time.Time       `json:"deadline"`
	State        string          `json:"state"` // AttemptInFlight, AttemptTimedOut or AttemptAbandoned
	// NoTimeout is true for a call without a CIF timer (openForm,
	// notifyEvent, insertNotes): it waits for the agent; Deadline is only
	// the bridge's safety limit.
	NoTimeout bool `json:"noTimeout,omitempty"`
}

// AttemptInfo states.
const (
	AttemptInFlight  = "inflight"  // awaiting its answer under the CIF timeout
	AttemptTimedOut  = "timedout"  // a late record: the widget got -32000, the answer may still come
	AttemptAbandoned = "abandoned" // a late record: its caller went away (widget disconnected)
)

// CorrelationStats are the correlation table's counts (Status.Correlation,
// StreamSnapshot.Correlation).
type CorrelationStats struct {
	InFlight    int    `json:"inflight"`
	Late        int    `json:"late"`
	Timeouts    uint64 `json:"timeouts"`
	LateAnswers uint64 `json:"lateAnswers"`
	Expired     uint64 `json:"expired"`
	Abandoned   uint64 `json:"abandoned"`
}

// LateCounts counts a session's backend attempts that became late records,
// and how many of them were answered late (each a bridge.late notification)
// or expired.
type LateCounts struct {
	Detached int64 `json:"detached"`
	Answered int64 `json:"answered"`
	Expired  int64 `json:"expired"`
}

// SessionSummary is what /api/v1/sessions and the dashboard stream both
// show of a session.
type SessionSummary struct {
	ID          string    `json:"id"`
	Profile     string    `json:"profile"`
	TimeoutMs   int64     `json:"timeoutMs"`
	Client      string    `json:"client,omitempty"`
	Created     time.Time `json:"created"`
	Connections int       `json:"connections"`
}

// SessionInfo is GET /api/v1/sessions/{id}, and one entry of
// GET /api/v1/sessions. InFlight and Late are oldest first, never null.
type SessionInfo struct {
	// Node is the cluster node that holds the session (--node-id); absent
	// on a single node.
	Node string `json:"node,omitempty"`
	SessionSummary
	InFlight   []AttemptInfo `json:"inflight"`
	Late       []AttemptInfo `json:"late"`
	LateCounts LateCounts    `json:"lateCounts"`
}

// SessionList is GET /api/v1/sessions: on a single node its sessions,
// oldest first. On a cluster node (unless ?scope=local) every node's
// sessions gathered within a short timeout: per node oldest first, nodes
// in name order, each session with its Node; Nodes, Missing and TimeoutMs
// are then present too (they are absent on a single node).
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
	// Nodes are the nodes that answered, in name order.
	Nodes []ClusterNode `json:"nodes,omitzero"`
	// Missing are nodes that answered an earlier gather but not this one
	// (down, partitioned or slow), in name order; [] when none.
	Missing []string `json:"missing,omitzero"`
	// MissingNodes is what this node last heard from each missing node,
	// in the order of Missing (LastSeen tells when).
	MissingNodes []ClusterNode `json:"missingNodes,omitzero"`
	// TimeoutMs is how long the gather waited at most.
	TimeoutMs int64 `json:"timeoutMs,omitzero"`
}

// Status is GET /api/v1/status. Fields are in the order the daemon has
// always written them.
type Status struct {
	Backend     string           `json:"backend"`
	Correlation CorrelationStats `json:"correlation"`
	Draining    bool             `json:"draining"`
	Hosts       int              `json:"hosts"`
	// Node is this node's id in a cluster (--node-id); absent on a single
	// node.
	Node     string         `json:"node,omitempty"`
	Profile  string         `json:"profile"`
	Sessions int            `json:"sessions"`
	Version  string         `json:"version"`
	Security SecurityStatus `json:"security"`
	// Cluster lists the nodes of a cluster (absent on a single node).
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// SecurityStatus is what /api/v1/status says of access control.
type SecurityStatus struct {
	// OpenRoles need no token ("widget", "host", "admin").
	OpenRoles []string `json:"openRoles"`
	// AllowUnauthenticated is the operator's opt-in to serve open roles
	// beyond loopback (--allow-unauthenticated).
	AllowUnauthenticated bool     `json:"allowUnauthenticated"`
	Listen               string   `json:"listen,omitempty"`
	AllowedHosts         []string `json:"allowedHosts"`
	AllowedOrigins       []string `json:"allowedOrigins"`
}

// StreamSnapshot is the dashboard stream's "snapshot" event
// (text/event-stream under /api/v1/stream).
type StreamSnapshot struct {
	Now           time.Time        `json:"now"`
	Version       string           `json:"version"`
	Backend       string           `json:"backend"`
	Profile       string           `json:"profile"`
	Draining      bool             `json:"draining"`
	Hosts         int              `json:"hosts"`
	Correlation   CorrelationStats `json:"correlation"`
	SessionsTotal int              `json:"sessionsTotal"`
	Sessions      []StreamSession  `json:"sessions"`
	// Node is this node's id in a cluster (absent on a single node): the
	// dashboard then lists every node's sessions from /api/v1/sessions.
	Node string `json:"node,omitempty"`
	// RecentLate are the last late records that ended (answered after the
	// CIF timeout, or expired), newest first, each with its own lateByMs
	// and outcome.
	RecentLate []EndedLate `json:"recentLate"`
}

// StreamSession is a session in a snapshot.
type StreamSession struct {
	SessionSummary
	InFlight []StreamAttempt `json:"inflight"`
	Late     []StreamAttempt `json:"late"`
	// InFlightCount and LateCount are the session's full counts; InFlight
	// and Late may list fewer (the stream caps attempts across sessions).
	InFlightCount int `json:"inflightCount"`
	LateCount     int `json:"lateCount"`
}

// StreamAttempt is an in-flight attempt (LeftMs: time left before the CIF
// timeout) or a late record (OverdueMs: time since the CIF deadline).
type StreamAttempt struct {
	AttemptInfo
	ElapsedMs int64 `json:"elapsedMs"`
	LeftMs    int64 `json:"leftMs,omitempty"`
	OverdueMs int64 `json:"overdueMs,omitempty"`
}

// EmulatorStats is GET /api/v1/emulator/stats: the emulator's ground truth.
type EmulatorStats struct {
	// Tables counts records per logical name (every known entity).
	Tables map[string]EmulatorTableStats `json:"tables"`
	// Operations counts operations that reached the store, per CIF
	// messageType ("createrecord", "execute", …), including those that
	// failed with a Dataverse error, excluding injected errors and drops.
	Operations map[string]int64 `json:"operations"`
	// LateCompletions counts answers given after their call's CIF deadline:
	// operations that completed, and injected errors (each is a late answer
	// the bridge reports with bridge.late). Drops never answer.
	LateCompletions int64 `json:"lateCompletions"`
	// FaultsApplied counts operations a fault rule applied to.
	FaultsApplied int64 `json:"faultsApplied"`
	// Delayed counts operations given injected latency.
	Delayed int64 `json:"delayed"`
	// InjectedErrors counts injected error answers.
	InjectedErrors int64 `json:"injectedErrors"`
	// Dropped counts dropped requests.
	Dropped int64 `json:"dropped"`
	// MaxRecords is the record bound (0: none). A load tool sizes the ids it
	// keeps picking so that they stay within it.
	MaxRecords int `json:"maxRecords"`
}

// EmulatorTableStats describes one emulator table.
type EmulatorTableStats struct {
	Records int `json:"records"`
	// Evicted counts records dropped to keep the store within its bound:
	// Records + Evicted is what creates left behind.
	Evicted int64 `json:"evicted"`
	// EvictedMisses counts calls that named a record of this table the
	// emulator had evicted (recently: it remembers most of the last
	// ~16 000 evicted ids, best effort) and so got Dataverse's 404 0x80040217 for
	// a missing record: the bound's doing, not a lost write.
	EvictedMisses int64 `json:"evictedMisses,omitempty"`
}
