package protocol

import "time"

// ClusterSessions is what GET /api/v1/cluster/sessions answered before
// GET /api/v1/sessions listed every node's sessions itself; the path still
// answers the same SessionList.
//
// Deprecated: use SessionList.
type ClusterSessions = SessionList

// ClusterSession is one session of a cluster-wide SessionList.
//
// Deprecated: use SessionInfo (its Node names the session's node).
type ClusterSession = SessionInfo

// ClusterNode is one node of a cluster as a gather saw it.
type ClusterNode struct {
	Node     string `json:"node"`
	Backend  string `json:"backend"`
	Version  string `json:"version"`
	Sessions int    `json:"sessions"`
	// LastSeen is when the node last answered this node's gathers: the
	// gather's own time for a node that answered it.
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// ClusterStatus is the "cluster" member of /api/v1/status on a cluster
// node: the nodes that answered a short gather, and those seen before that
// did not.
type ClusterStatus struct {
	Nodes   []ClusterNode `json:"nodes"`
	Missing []string      `json:"missing"`
	// Durable is true once this node's session registry and late-answer
	// stream are open in JetStream: its sessions can then be resumed on
	// another node even after it died, and late answers outlive it.
	Durable bool `json:"durable"`
	// MissingNodes is what this node last heard from each missing node,
	// in the order of Missing.
	MissingNodes []ClusterNode `json:"missingNodes,omitzero"`
}
