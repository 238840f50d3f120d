package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
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

// Serve answers other nodes' gathers with this node's sessions.
func (d *Directory) Serve() (stop func(), err error) {
	return d.Router.ServeAll(SessionsService, func(ctx context.Context, _ []byte) []byte {
		b, err := json.Marshal(nodeSessions{Node: d.Node, Backend: d.Backend, Version: d.Version, Sessions: d.Local()})
		if err != nil {
			d.Log.Error().Err(err).Msg("cluster: encode this node's sessions")
			return nil
		}
		return b
	})
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
	d.mu.Lock()
	if d.known == nil {
		d.known = map[string]time.Time{}
	}
	for n, seen := range d.known {
		if now.Sub(seen) > forgetNodeAfter {
			delete(d.known, n)
		}
	}
	want := len(d.known)
	d.mu.Unlock()
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
	d.mu.Lock()
	for n := range d.known {
		if _, ok := byNode[n]; !ok {
			out.Missing = append(out.Missing, n)
		}
	}
	for n := range byNode {
		d.known[n] = now
	}
	d.mu.Unlock()
	names := make([]string, 0, len(byNode))
	for n := range byNode {
		names = append(names, n)
	}
	slices.Sort(names)
	slices.Sort(out.Missing)
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
