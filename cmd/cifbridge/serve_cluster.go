package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/internal/backoff"
	"github.com/cifbridge/cifbridge/protocol"
)

// The cluster plug-in: several cifbridge nodes on NATS (issue 17).
// --nats-url joins an existing NATS cluster; --cluster-listen and
// --cluster-peers make this node embed a nats-server routed to its peers.
// In cluster mode a node with --backend emulator serves its emulator to
// the whole cluster and a node with --backend cluster sends its calls
// there. No cluster flag: a single node, no NATS anywhere.
type clusterPlugin struct {
	noSteps
	natsURL string
	listen  string
	peers   string
	nodeID  string

	node          string // this node's id once configured; "" on a single node
	embedded      *cluster.Embedded
	nc            *nats.Conn
	router        *cluster.NATS
	metrics       *cluster.Metrics
	stopServe     func()
	dir           *cluster.Directory
	stopDirectory func()
	events        *cluster.Events
	stopEvents    func()

	// The durable state (JetStream): opened in the background once the
	// cluster's JetStream answers (servers still electing a leader at
	// start); until then sessions move only between live nodes and late
	// answers travel over the router only.
	jetStream   bool                             // this node's NATS has JetStream
	replicas    int                              // of the buckets and the stream
	registry    atomic.Pointer[cluster.Registry] // set once open
	late        *cluster.LateAnswers
	durableCtx  context.Context // ends when serve stops
	stopDurable context.CancelFunc
	durableWG   sync.WaitGroup

	hostsMu      sync.Mutex
	hosts        *cluster.HostServer                  // --backend host: this node's host peers, served to the cluster
	hostSessions func() (sessions []string, all bool) // bridge.Server.HostSessions
}

func (p *clusterPlugin) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.natsURL, "nats-url", "", "join an existing NATS cluster (JetStream enabled) at these comma-separated `URLs`, e.g. nats://10.0.0.1:4222,nats://10.0.0.2:4222; cluster mode (see README \"Run a cluster\")")
	fs.StringVar(&p.listen, "cluster-listen", "", "embed a NATS server with JetStream in this node and take routes from other nodes on this `HOST:PORT`, e.g. 127.0.0.1:6222; cluster mode without anything else to install (store under --data-dir/nats)")
	fs.StringVar(&p.peers, "cluster-peers", "", "comma-separated `HOST:PORT` route addresses (their --cluster-listen) of other nodes this node's embedded NATS server connects to")
	fs.StringVar(&p.nodeID, "node-id", "", "this node's `id` in the cluster (letters, digits, '-', '_'; at most 64), shown in logs, /api/v1/status and as the node label of metrics (default: host name plus a random suffix; give a stable one so the node keeps its JetStream identity across restarts)")
}

// clustered reports whether a cluster flag was given.
func (p *clusterPlugin) clustered() bool { return p.natsURL != "" || p.listen != "" || p.peers != "" }

func (p *clusterPlugin) configure(env *serveEnv) error {
	if !p.clustered() {
		if env.Flags.backend == "cluster" {
			return usageError{errors.New("--backend cluster needs a cluster: --nats-url nats://HOST:4222, or --cluster-listen HOST:PORT [--cluster-peers HOST:PORT,…]")}
		}
		if env.Set["node-id"] {
			env.Log.Warn().Str("flag", "--node-id").Msg("--node-id ignored: it applies in cluster mode only (--nats-url or --cluster-listen)")
		}
		return nil
	}
	if p.natsURL != "" && (p.listen != "" || p.peers != "") {
		return usageError{errors.New("give either --nats-url (join a NATS cluster) or --cluster-listen/--cluster-peers (embed one), not both")}
	}
	if p.peers != "" && p.listen == "" {
		return usageError{errors.New("--cluster-peers needs --cluster-listen (this node's own route address, e.g. 127.0.0.1:6222)")}
	}
	id, err := nodeIDOrDefault(p.nodeID)
	if err != nil {
		return usageError{err}
	}
	p.node = id
	env.Log = env.Log.With().Str("node", id).Logger()
	env.Config.Logger = env.Log
	env.Config.Node = id
	if p.natsURL != "" {
		if err := p.join(env); err != nil {
			return err
		}
	} else if err := p.embed(env); err != nil {
		return err
	}
	p.router = cluster.NewNATS(p.nc, env.Log.With().Str("component", "cluster").Logger())
	p.metrics = cluster.NewMetrics()
	// Events for sessions held by another node (admin API, host peers) are
	// raised there; start fills in this node's side.
	p.events = &cluster.Events{Router: p.router, Node: id, Log: env.Log.With().Str("component", "cluster").Logger(), Metrics: p.metrics}
	env.Config.EventFallback = p.events.Raise
	env.Config.ResumeElsewhere = p.resume
	env.Config.OnHello = p.hello
	p.late = &cluster.LateAnswers{Node: id, Log: env.Log.With().Str("component", "cluster").Logger(), Metrics: p.metrics}
	// The nodes in /api/v1/status and every node's sessions in
	// /api/v1/sessions; start gives it this node's sessions.
	p.dir = &cluster.Directory{Router: p.router, Node: id, Backend: env.Flags.backend, Version: version,
		Log: env.Log.With().Str("component", "cluster").Logger()}
	env.Config.ClusterStatus = func(ctx context.Context) *protocol.ClusterStatus {
		st := p.dir.Status(ctx)
		st.Durable = p.registry.Load() != nil
		return st
	}
	env.Config.ClusterSessions = p.dir.Handler()
	switch env.Flags.backend {
	case "cluster":
		cb := &cluster.Backend{Router: p.router, Node: id, LateWindow: env.Flags.lateWindow, Metrics: p.metrics, Late: p.late}
		env.Config.Backend = cb
		// The emulator node keeps panel state per session: tell it when a
		// session of this node ends, or that state would pile up there.
		log := env.Log
		env.Config.OnSessionEnd = func(session string) {
			go func() {
				if err := cb.ForgetSession(session); err != nil {
					log.Debug().Err(err).Str("session", session).Msg("cluster: the backend node did not hear of the session's end")
				}
			}()
		}
	case "host":
		// Sessions no host peer of this node serves go to the node whose
		// host peer serves them; this node's host peers serve the cluster.
		env.Config.HostFallback = &cluster.HostBackend{Router: p.router, Node: id, LateWindow: env.Flags.lateWindow, Metrics: p.metrics, Late: p.late}
		env.Config.OnHostsChanged = p.syncHosts
	}
	// A session that ends here leaves the registry (when it did not move
	// to another node meanwhile).
	ended := env.Config.OnSessionEnd
	env.Config.OnSessionEnd = func(session string) {
		if reg := p.registry.Load(); reg != nil {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				reg.Forget(ctx, session)
			}()
		}
		if ended != nil {
			ended(session)
		}
	}
	return nil
}

// resume is the bridge's ResumeElsewhere: the registry moves the session
// here, even from a dead node; a session the registry does not know (its
// node recorded it before the registry opened) is looked for among the
// live nodes.
func (p *clusterPlugin) resume(ctx context.Context, session, token string) (bool, error) {
	if reg := p.registry.Load(); reg != nil {
		found, err := reg.Resume(ctx, session, token)
		if found || err != nil {
			return found, err
		}
	}
	return p.events.Resume(ctx, session, token)
}

// hello is the bridge's OnHello: the session's owner, profile and
// resume-token hash go into the registry before the widget gets its
// token; a session that moved here gets the late answers stored for it.
func (p *clusterPlugin) hello(ctx context.Context, h bridge.Hello) error {
	reg := p.registry.Load()
	if reg == nil {
		return nil
	}
	err := reg.Register(ctx, h.Session, h.ResumeToken, h.Profile)
	if h.Resumed {
		p.durableWG.Add(1)
		go func() {
			defer p.durableWG.Done()
			sctx, cancel := context.WithTimeout(p.durableCtx, 30*time.Second)
			defer cancel()
			if err := p.late.Scan(sctx, h.Session); err != nil {
				p.late.Log.Warn().Err(err).Str("session", h.Session).Msg("late answers stored for the session not read")
			}
		}()
	}
	return err
}

// openDurable opens the registry, the late-answer stream and the claims
// in JetStream, retrying while the cluster's JetStream has no leader yet,
// then runs the late-answer reader and the registry's refresh until ctx
// ends.
func (p *clusterPlugin) openDurable(ctx context.Context, env *serveEnv) {
	log := env.Log.With().Str("component", "cluster").Logger()
	js, err := jetstream.New(p.nc)
	if err != nil {
		log.Error().Err(err).Msg("JetStream client: sessions move only between live nodes, late answers do not outlive the node that timed out")
		return
	}
	touch := min(cluster.DefaultTouchInterval, max(env.Config.ResumeWindow/4, time.Second))
	resumeWindow := env.Config.ResumeWindow
	if resumeWindow <= 0 {
		resumeWindow = 2 * time.Minute
	}
	cfg := cluster.DurableConfig{Replicas: p.replicas, SessionTTL: resumeWindow + 2*touch,
		LateMaxAge: env.Flags.lateWindow + 10*time.Minute}
	start := time.Now()
	warned := false
	var d *cluster.Durable
	err = backoff.Retry{Try: 10 * time.Second, Pause: time.Second,
		OnFail: func(err error, _ int) {
			if !warned && time.Since(start) > 15*time.Second {
				log.Warn().Err(err).Msg("the cluster's JetStream does not answer yet (are the other nodes up?): sessions move only between live nodes until it does; still trying")
				warned = true
			}
		}}.Do(ctx, func(ctx context.Context) (err error) {
		d, err = cluster.OpenDurable(ctx, js, cfg)
		return err
	})
	if err != nil {
		return // ctx ended
	}
	p.registry.Store(&cluster.Registry{KV: d.Sessions, Node: p.node, ReleaseOn: p.events.ReleaseOn, Log: log})
	p.late.Open(d)
	log.Info().Int("replicas", cfg.Replicas).Dur("sessionTTL", cfg.SessionTTL).Dur("lateMaxAge", cfg.LateMaxAge).
		Msg("cluster durable state open: session registry and late answers in JetStream")
	p.durableWG.Add(1)
	go func() {
		defer p.durableWG.Done()
		p.registry.Load().RunTouch(ctx, touch)
	}()
	if err := p.late.Run(ctx); err != nil {
		log.Error().Err(err).Msg("late answers of other nodes are not delivered here")
	}
}

// join connects to an existing NATS cluster and checks it has JetStream.
func (p *clusterPlugin) join(env *serveEnv) error {
	var urls []string
	for _, u := range strings.Split(p.natsURL, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			return usageError{fmt.Errorf("--nats-url %q: each URL starts with nats:// or tls://, e.g. nats://127.0.0.1:4222", u)}
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		return usageError{errors.New("--nats-url has no URL, e.g. --nats-url nats://127.0.0.1:4222")}
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name("cifbridge "+p.node), nats.MaxReconnects(-1), nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // our own Close: serve is stopping (and may have returned)
			}
			env.Log.Warn().Err(err).Msg("NATS connection lost: reconnecting; cluster calls fail with -32002 meanwhile")
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { env.Log.Info().Str("server", c.ConnectedUrlRedacted()).Msg("NATS reconnected") }))
	if errors.Is(err, nats.ErrNoServers) {
		return usageError{fmt.Errorf("--nats-url %s: no NATS server answers there (%w): start one with JetStream (nats-server -js) or fix the address, e.g. --nats-url nats://10.0.0.1:4222", p.natsURL, err)}
	}
	if err != nil {
		return fmt.Errorf("connect to --nats-url %s: %w", p.natsURL, err)
	}
	p.nc = nc
	p.jetStream = true
	p.replicas = min(3, max(1, len(nc.Servers())))
	js, err := jetstream.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = js.AccountInfo(ctx)
		cancel()
	}
	if err != nil {
		return fmt.Errorf("the NATS cluster at --nats-url %s has no JetStream for this account (start nats-server with -js): %w", p.natsURL, err)
	}
	env.Log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("joined NATS cluster")
	return nil
}

// embed starts this node's own nats-server, routed to --cluster-peers.
func (p *clusterPlugin) embed(env *serveEnv) error {
	var peers []string
	for _, peer := range strings.Split(p.peers, ",") {
		if peer = strings.TrimSpace(peer); peer != "" {
			peers = append(peers, peer)
		}
	}
	if h, _, err := net.SplitHostPort(p.listen); err == nil {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			env.Log.Warn().Str("clusterListen", p.listen).Msg("cluster routes are neither authenticated nor encrypted: whoever reaches --cluster-listen joins the cluster (calls its backend, moves sessions); keep it on a private network")
		}
	}
	store := filepath.Join(env.Flags.dataDir, "nats")
	if err := os.MkdirAll(store, 0o750); err != nil {
		return fmt.Errorf("create the NATS store %s: %w", store, err)
	}
	// nats-server runs clustered JetStream only with routes configured: a
	// node started without peers serves calls but has no JetStream.
	js := len(peers) > 0
	p.jetStream, p.replicas = js, min(3, 1+len(peers))
	if !js {
		env.Log.Warn().Msg("--cluster-listen without --cluster-peers: JetStream is off on this node (clustered JetStream needs routes); give every node the others' addresses")
	}
	e, err := cluster.StartEmbedded(cluster.EmbedConfig{Name: p.node, ClusterListen: p.listen, Peers: peers, JetStream: js, StoreDir: store, Log: &env.Log})
	if err != nil {
		if strings.Contains(err.Error(), "HOST:PORT") || strings.Contains(err.Error(), "port must be") {
			return usageError{err}
		}
		return err
	}
	p.embedded = e
	// Wait a moment for the routes to the peers: a node that probes the
	// cluster (is another node serving the emulator?) before it is part of
	// it sees nobody. nats-server opens a pool of route connections per
	// peer and an account's interest travels on one of them, so wait until
	// their number held still for 200 ms, not just for the first. The
	// first node of a cluster waits in vain, briefly.
	deadline := time.Now().Add(2 * time.Second)
	for n, since := 0, time.Now(); len(peers) > 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r := e.Routes(); r != n {
			n, since = r, time.Now()
		} else if n > 0 && time.Since(since) >= 200*time.Millisecond {
			break
		}
	}
	if len(peers) > 0 && e.Routes() == 0 {
		env.Log.Warn().Strs("peers", peers).Msg("no peer reachable yet: the embedded NATS server keeps trying (a peer that is up but logs \"duplicate name\" has this node's --node-id already: give each node its own)")
	}
	if p.nc, err = e.Connect("cifbridge " + p.node); err != nil {
		return fmt.Errorf("connect to the embedded NATS server: %w", err)
	}
	env.Log.Info().Str("clusterListen", e.ClusterAddr().String()).Strs("peers", peers).Str("store", store).
		Msg("embedded NATS server running")
	return nil
}

// syncHosts serves what this node's host peers serve now to the cluster.
func (p *clusterPlugin) syncHosts() {
	p.hostsMu.Lock()
	defer p.hostsMu.Unlock()
	if p.hosts != nil {
		p.hosts.Sync(p.hostSessions())
	}
}

func (p *clusterPlugin) start(ctx context.Context, env *serveEnv) error {
	if p.router != nil {
		if err := registerAll(env.Server.Registry(), p.metrics.Collectors()); err != nil {
			return err
		}
		// GET /api/v1/sessions lists every node's sessions (Config.
		// ClusterSessions); /api/v1/cluster/sessions, its first path, stays
		// an alias for the scripts that use it.
		p.dir.Local = env.Server.SessionList
		stop, err := p.dir.Serve()
		if err != nil {
			return err
		}
		p.stopDirectory = stop
		env.Server.Mount("GET /api/v1/cluster/sessions", p.dir.Handler())
		srv := env.Server
		p.events.Has = func(session string) bool { return srv.Session(session) != nil }
		p.events.RaiseLocal = srv.RaiseLocalEvent
		p.events.Release = srv.ReleaseSession
		if p.stopEvents, err = p.events.Serve(); err != nil {
			return err
		}
		p.late.Local = func(session string) bool { return srv.Session(session) != nil }
		p.late.Pending = srv.HasAttempt
		p.late.Deliver = srv.DeliverLate
		if p.jetStream {
			dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			p.durableCtx, p.stopDurable = dctx, cancel
			p.durableWG.Add(1)
			go func() {
				defer p.durableWG.Done()
				p.openDurable(dctx, env)
			}()
		}
	}
	if p.router != nil && env.Config.HostBackend {
		p.hostsMu.Lock()
		p.hostSessions = env.Server.HostSessions
		p.hosts = &cluster.HostServer{Router: p.router, Node: p.node, Local: p.late.Publishing(env.Server.LocalHosts()),
			Log: env.Log.With().Str("component", "cluster").Logger()}
		p.hostsMu.Unlock()
		p.syncHosts()
		env.Log.Info().Msg("serving this node's host peers to the cluster")
	}
	if p.router == nil || env.Emulator == nil {
		return nil
	}
	// --backend emulator in cluster mode: this node's emulator is the
	// cluster's backend; one per cluster, so every node sees one set of
	// records.
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stop, err := cluster.ServeBackend(pctx, p.router, cluster.BackendService, p.node, p.late.Publishing(env.Emulator), env.Log.With().Str("component", "cluster").Logger())
	if err != nil {
		if errors.Is(err, cluster.ErrAlreadyServed) {
			return fmt.Errorf("%w: run one node with --backend emulator and the others with --backend cluster", err)
		}
		return err
	}
	p.stopServe = stop
	env.Log.Info().Msg("serving the emulator to the cluster (--backend cluster nodes call it)")
	return nil
}

func (p *clusterPlugin) stop(*serveEnv) {
	callAndClear(&p.stopDurable)
	p.durableWG.Wait()
	callAndClear(&p.stopDirectory)
	callAndClear(&p.stopEvents)
	p.hostsMu.Lock()
	if p.hosts != nil {
		p.hosts.Close()
		p.hosts = nil
	}
	p.hostsMu.Unlock()
	callAndClear(&p.stopServe)
	if p.router != nil {
		p.router.Close()
		p.router = nil
	}
	if p.nc != nil {
		p.nc.Close()
		p.nc = nil
	}
	if p.embedded != nil {
		p.embedded.Shutdown()
		p.embedded = nil
	}
}

// callAndClear calls *stop when it is set and then clears it, so that a
// second stop (after a failed start, say) does nothing.
func callAndClear[F ~func()](stop *F) {
	if *stop != nil {
		(*stop)()
		*stop = nil
	}
}

// nodeIDOrDefault checks a given node id, or makes one: the host name
// (cut to its first label, made a safe token) plus 6 random hex digits.
func nodeIDOrDefault(id string) (string, error) {
	if id != "" {
		if len(id) > 64 || strings.Contains(id, ".") || cluster.CheckService(id) != nil {
			return "", fmt.Errorf("--node-id %q: use 1 to 64 letters, digits, '-' or '_', e.g. --node-id bridge-a", id)
		}
		return id, nil
	}
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	var b strings.Builder
	for _, c := range host {
		if c < 128 && (c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') && b.Len() < 48 {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		b.WriteString("node")
	}
	var r [3]byte
	_, _ = rand.Read(r[:])
	return b.String() + "-" + hex.EncodeToString(r[:]), nil
}

// registerAll registers cs on reg.
func registerAll(reg *prometheus.Registry, cs []prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register cluster metrics: %w", err)
		}
	}
	return nil
}
