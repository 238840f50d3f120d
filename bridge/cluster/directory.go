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

// Directory lists the sessions of every node (GET /api/v1/cluster/sessions)
// by gathering them with a short timeout. It remembers the nodes that
// answered before, so that it returns as soon as all of them answered and
// names those that did not.
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
	known map[string]time.Time // node → last answer
}

// NodesService is gathered from every node for the list of nodes.
const NodesService = "nodes"

// Serve answers other nodes' gathers with this node's sessions, and with
// this node's summary for the list of nodes.
func (d *Directory) Serve() (stop func(), err error) {
	stopSessions, err := d.Router.ServeAll(SessionsService, func(ctx context.Context, _ []byte) []byte {
		b, err := json.Marshal(nodeSessions{Node: d.Node, Backend: d.Backend, Version: d.Version, Sessions: d.Local()})
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
		b, _ := json.Marshal(protocol.ClusterNode{Node: d.Node, Backend: d.Backend, Version: d.Version, Sessions: len(d.Local().Sessions)})
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
		d.known = map[string]time.Time{}
	}
	for n, seen := range d.known {
		if now.Sub(seen) > forgetNodeAfter {
			delete(d.known, n)
		}
	}
	return len(d.known)
}

// seen records the nodes that answered at now and returns, sorted, the
// known ones that did not.
func (d *Directory) seen(now time.Time, answered map[string]bool) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	missing := []string{}
	for n := range d.known {
		if !answered[n] {
			missing = append(missing, n)
		}
	}
	for n := range answered {
		d.known[n] = now
	}
	slices.Sort(missing)
	return missing
}

// Status gathers the list of nodes for /api/v1/status.
func (d *Directory) Status(ctx context.Context) *protocol.ClusterStatus {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultGatherTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := time.Now()
	answers, err := d.Router.Gather(ctx, NodesService, nil, d.want(now))
	if err != nil {
		d.Log.Warn().Err(err).Msg("cluster: gather nodes")
	}
	out := &protocol.ClusterStatus{Nodes: []protocol.ClusterNode{}}
	answered := map[string]bool{}
	for _, a := range answers {
		var n protocol.ClusterNode
		if json.Unmarshal(a, &n) != nil || n.Node == "" || answered[n.Node] {
			continue
		}
		answered[n.Node] = true
		out.Nodes = append(out.Nodes, n)
	}
	slices.SortFunc(out.Nodes, func(a, b protocol.ClusterNode) int { return strings.Compare(a.Node, b.Node) })
	out.Missing = d.seen(now, answered)
	return out
}

// Sessions gathers every node's sessions within timeout (0: d.Timeout).
func (d *Directory) Sessions(ctx context.Context, timeout time.Duration) protocol.ClusterSessions {
	if timeout <= 0 {
		timeout = d.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultGatherTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := time.Now()
	want := d.want(now)
	out := protocol.ClusterSessions{Sessions: []protocol.ClusterSession{}, Nodes: []protocol.ClusterNode{}, Missing: []string{},
		TimeoutMs: timeout.Milliseconds()}
	answers, err := d.Router.Gather(ctx, SessionsService, nil, want)
	if err != nil {
		d.Log.Warn().Err(err).Msg("cluster: gather sessions")
	}
	byNode := map[string]nodeSessions{}
	for _, a := range answers {
		var ns nodeSessions
		if json.Unmarshal(a, &ns) != nil || ns.Node == "" {
			continue
		}
		byNode[ns.Node] = ns
	}
	answered := map[string]bool{}
	for n := range byNode {
		answered[n] = true
	}
	out.Missing = d.seen(now, answered)
	names := make([]string, 0, len(byNode))
	for n := range byNode {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ns := byNode[n]
		out.Nodes = append(out.Nodes, protocol.ClusterNode{Node: n, Backend: ns.Backend, Version: ns.Version, Sessions: len(ns.Sessions.Sessions)})
		for _, s := range ns.Sessions.Sessions {
			out.Sessions = append(out.Sessions, protocol.ClusterSession{Node: n, SessionInfo: s})
		}
	}
	return out
}

// Handler serves GET /api/v1/cluster/sessions[?timeoutMs=N] (N from 1 to
// 10000; default Timeout).
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
