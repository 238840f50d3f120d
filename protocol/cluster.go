package protocol

// ClusterSessions is GET /api/v1/cluster/sessions on a cluster node: the
// sessions of every node that answered within the gather timeout.
type ClusterSessions struct {
	// Sessions are every answering node's, each with its node; per node
	// oldest first, nodes in name order.
	Sessions []ClusterSession `json:"sessions"`
	// Nodes are the nodes that answered, in name order.
	Nodes []ClusterNode `json:"nodes"`
	// Missing are nodes seen in an earlier gather that did not answer this
	// one (down, partitioned or slow), in name order; never null.
	Missing []string `json:"missing"`
	// TimeoutMs is how long the gather waited at most.
	TimeoutMs int64 `json:"timeoutMs"`
}

// ClusterSession is one session of ClusterSessions.
type ClusterSession struct {
	Node string `json:"node"`
	SessionInfo
}

// ClusterNode is one node that answered a gather.
type ClusterNode struct {
	Node     string `json:"node"`
	Backend  string `json:"backend"`
	Version  string `json:"version"`
	Sessions int    `json:"sessions"`
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
}
