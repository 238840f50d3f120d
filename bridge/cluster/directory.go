package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/httpjson"
	"github.com/cifbridge/cifbridge/protocol"
)

// SessionsService is gathered from every node for the cluster-wide
// session list.
const SessionsService = "sessions"

// DefaultGatherTimeout bounds a cluster-wide listing: nodes that have not
// answered by then are named missing.
const DefaultGatherTimeout = 500 * time.Millisecond

// forgetNodeAfter drops a node from the known set when it has not answered
// a gather for this long (it was removed, not just down).
const forgetNodeAfter = 10 * time.Minute

// nodeSessions is one node's answer to a sessions gather.
type nodeSessions struct {
	Node     string               `json:"node"`
	Backend  string               `json:"backend"`
	Version  string               `json:"version"`
	Sessions protocol.SessionList `json:"sessions"`
}

// Directory lists the sessions of every node (GET /api/v1/sessions in
// cluster mode) and the nodes (/api/v1/status) by gathering them with a
// short timeout. It remembers the nodes that answered before, so that it
// returns as soon as all of them answered and names those that did not.
type Directory struct {
	Router  Router
	Node    string
	Backend string
	Version string
	// Local is this node's session list (bridge.Server.SessionList).
	Local   func() protocol.SessionList
	Timeout time.Duration // DefaultGatherTimeout unless set
	Log     zerolog.Logger

	mu    sync.Mutex
	known map[string]protocol.ClusterNode // node → its last answer, LastSeen set
}

// NodesService is gathered from every node for the list of nodes.
const NodesService = "nodes"

// summary is this node as the list of nodes shows it.
func (d *Directory) summary(sessions int) protocol.ClusterNode {
	return protocol.ClusterNode{Node: d.Node, Backend: d.Backend, Version: d.Version, Sessions: sessions}
}

// Serve answers other nodes' gathers with this node's sessions, and with
// this node's summary for the list of nodes.
func (d *Directory) Serve() (stop func(), err error) {
	stopSessions, err := d.Router.ServeAll(SessionsService, func(ctx context.Context, _ []byte) []byte {
		local := d.Local()
		b, err := json.Marshal(nodeSessions{Node: d.Node, Backend: d.Backend, Version: d.Version, Sessions: local})
		if err != nil {
			d.Log.Error().Err(err).Msg("cluster: encode this node's sessions")
			return nil
		}
		return b
	})
	if err != nil {
		return nil, err
	}
	stopNodes, err := d.Router.ServeAll(NodesService, func(ctx context.Context, _ []byte) []byte {
		b, _ := json.Marshal(d.summary(len(d.Local().Sessions)))
		return b
	})
	if err != nil {
		stopSessions()
		return nil, err
	}
	return func() { stopSessions(); stopNodes() }, nil
}

// want returns how many nodes a gather waits for (those seen lately),
// forgetting the ones not seen for forgetNodeAfter.
func (d *Directory) want(now time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known == nil {
		d.known = map[string]protocol.ClusterNode{}
	}
	for n, last := range d.known {
		if now.Sub(last.LastSeen) > forgetNodeAfter {
			delete(d.known, n)
		}
	}
	return len(d.known)
}

// seen records the nodes that answered at now (their LastSeen set to now)
// and returns, sorted by name, the known ones that did not, as last heard.
func (d *Directory) seen(now time.Time, answered []protocol.ClusterNode) (missing []string, lost []protocol.ClusterNode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := map[string]bool{}
	for i := range answered {
		answered[i].LastSeen = now
		in[answered[i].Node] = true
	}
	missing, lost = []string{}, []protocol.ClusterNode{}
	for n, last := range d.known {
		if !in[n] {
			lost = append(lost, last)
		}
	}
	slices.SortFunc(lost, nodeOrder)
	for _, n := range lost {
		missing = append(missing, n.Node)
	}
	for _, n := range answered {
		d.known[n.Node] = n
	}
	return missing, lost
}

func nodeOrder(a, b protocol.ClusterNode) int { return strings.Compare(a.Node, b.Node) }

// gatherTimeout is timeout, else d.Timeout, else DefaultGatherTimeout.
func (d *Directory) gatherTimeout(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		timeout = d.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultGatherTimeout
	}
	return timeout
}

// gather asks every node for service within timeout, hands each answer to
// decode and returns when it started.
func (d *Directory) gather(ctx context.Context, service string, timeout time.Duration, decode func([]byte)) time.Time {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := time.Now()
	answers, err := d.Router.Gather(ctx, service, nil, d.want(now))
	if err != nil {
		d.Log.Warn().Err(err).Str("service", service).Msg("cluster: gather")
	}
	for _, a := range answers {
		decode(a)
	}
	return now
}

// Status gathers the list of nodes for /api/v1/status.
func (d *Directory) Status(ctx context.Context) *protocol.ClusterStatus {
	out := &protocol.ClusterStatus{Nodes: []protocol.ClusterNode{}}
	answered := map[string]bool{}
	now := d.gather(ctx, NodesService, d.gatherTimeout(0), func(a []byte) {
		var n protocol.ClusterNode
		if json.Unmarshal(a, &n) != nil || n.Node == "" || answered[n.Node] {
			return
		}
		answered[n.Node] = true
		out.Nodes = append(out.Nodes, n)
	})
	slices.SortFunc(out.Nodes, nodeOrder)
	out.Missing, out.MissingNodes = d.seen(now, out.Nodes)
	return out
}

// Sessions gathers every node's sessions within timeout (0: d.Timeout):
// each session names its node; nodes that did not answer are missing.
func (d *Directory) Sessions(ctx context.Context, timeout time.Duration) protocol.SessionList {
	timeout = d.gatherTimeout(timeout)
	byNode := map[string]nodeSessions{}
	now := d.gather(ctx, SessionsService, timeout, func(a []byte) {
		var ns nodeSessions
		if json.Unmarshal(a, &ns) == nil && ns.Node != "" {
			byNode[ns.Node] = ns
		}
	})
	out := protocol.SessionList{Sessions: []protocol.SessionInfo{}, Nodes: []protocol.ClusterNode{}, TimeoutMs: timeout.Milliseconds()}
	for n, ns := range byNode {
		out.Nodes = append(out.Nodes, protocol.ClusterNode{Node: n, Backend: ns.Backend, Version: ns.Version, Sessions: len(ns.Sessions.Sessions)})
	}
	slices.SortFunc(out.Nodes, nodeOrder)
	out.Missing, out.MissingNodes = d.seen(now, out.Nodes)
	for _, n := range out.Nodes {
		for _, s := range byNode[n.Node].Sessions.Sessions {
			s.Node = n.Node
			out.Sessions = append(out.Sessions, s)
		}
	}
	return out
}

// Handler serves the cluster-wide GET /api/v1/sessions[?timeoutMs=N] (N
// from 1 to 10000; default Timeout), and its older path
// /api/v1/cluster/sessions.
func (d *Directory) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var timeout time.Duration
		if v := r.URL.Query().Get("timeoutMs"); v != "" {
			ms, err := strconv.Atoi(v)
			if err != nil || ms < 1 || ms > 10000 {
				httpjson.Error(w, http.StatusBadRequest, protocol.InvalidParams("timeoutMs must be a whole number of milliseconds from 1 to 10000, e.g. ?timeoutMs=500"))
				return
			}
			timeout = time.Duration(ms) * time.Millisecond
		}
		httpjson.Write(w, http.StatusOK, d.Sessions(r.Context(), timeout))
	})
}
