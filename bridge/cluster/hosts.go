package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// HostAllService is served by every node whose host peers serve every
// session ("*"); a session named by a host peer is served as
// HostService(session).
const HostAllService = "host.all"

// HostService is the service of the host peers serving session.
func HostService(session string) string { return "host.s." + session }

// HostBackend executes a session's calls on a host peer of another node
// (the bridge's Config.HostFallback in cluster mode with --backend host):
// the node whose host peer named the session, else one with a "*" host
// peer, else -32002 at once.
type HostBackend struct {
	Router     Router
	Node       string
	LateWindow time.Duration
	Metrics    *Metrics     // when set, counts the calls (kind "host")
	Late       *LateAnswers // see Backend.Late
}

var _ backend.Backend = (*HostBackend)(nil)

func (h *HostBackend) Name() string { return "host" }

func (h *HostBackend) Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	start := time.Now()
	res, err := h.execute(ctx, a)
	h.Metrics.observe("host", start, err)
	return res, err
}

func (h *HostBackend) execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	if CheckService(HostService(a.Session)) == nil {
		res, err := (&Backend{Router: h.Router, Service: HostService(a.Session), Node: h.Node, LateWindow: h.LateWindow, Late: h.Late, kind: "-"}).Execute(ctx, a)
		if !isNobody(err) {
			return res, err
		}
	}
	res, err := (&Backend{Router: h.Router, Service: HostAllService, Node: h.Node, LateWindow: h.LateWindow, Late: h.Late, kind: "-"}).Execute(ctx, a)
	if isNobody(err) {
		return nil, protocol.NewNoBackendError(false, "no host peer on any node of the cluster serves session %s: connect one on %s and send host.hello", a.Session, protocol.PathHost)
	}
	return res, err
}

// isNobody reports whether err is Backend's "no node serves it".
func isNobody(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNoBackend {
		return false
	}
	var d protocol.NoBackendData
	return json.Unmarshal(pe.Data, &d) == nil && !d.Delivered
}

// HostServer serves this node's host peers to the cluster: Sync keeps one
// subscription per session they name, and HostAllService while one of
// them serves every session.
type HostServer struct {
	Router Router
	Node   string
	Local  backend.Backend // the node's host peers only (bridge.Server.LocalHosts)
	Log    zerolog.Logger

	mu   sync.Mutex
	subs map[string]func() // service → stop
}

// Sync makes the served services match sessions and all.
func (s *HostServer) Sync(sessions []string, all bool) {
	want := map[string]bool{}
	for _, id := range sessions {
		svc := HostService(id)
		if err := CheckService(svc); err != nil {
			s.Log.Warn().Str("session", logcap.Str(id)).Msg("a host peer names a session that is not a valid id: it is served on this node only")
			continue
		}
		want[svc] = true
	}
	if all {
		want[HostAllService] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[string]func(){}
	}
	for svc, stop := range s.subs {
		if !want[svc] {
			stop()
			delete(s.subs, svc)
		}
	}
	for svc := range want {
		if s.subs[svc] != nil {
			continue
		}
		stop, err := s.Router.Serve(svc, func(ctx context.Context, in []byte) []byte {
			return answer(ctx, s.Node, s.Local, in, s.Log)
		})
		if err != nil {
			s.Log.Error().Err(err).Str("service", svc).Msg("cluster: cannot serve host peers")
			continue
		}
		s.subs[svc] = stop
	}
}

// Close stops serving.
func (s *HostServer) Close() { s.Sync(nil, false) }
