package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// ClusterName is the NATS cluster name every embedded server uses.
const ClusterName = "cifbridge"

// MaxPayload is the largest message the embedded servers take: a widget
// message (at most --max-message-bytes, 1 MiB by default) plus the
// envelope. 8 MiB leaves room for a raised --max-message-bytes.
const MaxPayload = 8 << 20

// EmbedConfig configures an embedded nats-server.
type EmbedConfig struct {
	// Name is the server's name (the node id): unique in the cluster.
	Name string
	// ClusterListen is HOST:PORT for routes from other nodes; port 0 picks
	// a free one (ClusterAddr tells which). Empty: no cluster listener.
	ClusterListen string
	// Peers are other nodes' ClusterListen addresses (HOST:PORT).
	Peers []string
	// JetStream enables JetStream with its store in StoreDir.
	JetStream bool
	StoreDir  string
	// ClientListen is HOST:PORT for NATS clients (nats CLI, --nats-url of
	// other processes); empty: in-process connections only.
	ClientListen string
	// Log receives the server's warnings and errors (see natsLog); nil:
	// the server logs nothing.
	Log *zerolog.Logger
}

// Embedded is a running embedded nats-server.
type Embedded struct {
	S *server.Server
}

// StartEmbedded starts a nats-server in this process and waits until it
// takes connections. It never installs signal handlers, and logs only its
// warnings and errors, to cfg.Log.
func StartEmbedded(cfg EmbedConfig) (*Embedded, error) {
	if cfg.Name == "" {
		return nil, errors.New("embedded NATS server needs a name")
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: MaxPayload,
		// nats-server starts routing only once its client listener is up,
		// so a clustered server listens for clients on a free loopback
		// port even when nobody outside the process uses it.
		DontListen: cfg.ClientListen == "" && cfg.ClusterListen == "",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		// The default of 64 MiB pending per client would cut off a busy
		// cluster backend; the limit below still bounds memory.
		MaxPending: 256 << 20,
	}
	if cfg.ClientListen != "" {
		h, p, err := splitHostPort(cfg.ClientListen, "client listen")
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = h, p
	}
	if cfg.ClusterListen != "" {
		h, p, err := splitHostPort(cfg.ClusterListen, "--cluster-listen")
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{Name: ClusterName, Host: h, Port: p}
		// nats-server retries a route port it cannot bind and is never
		// ready: find out now, not after the 15 s readiness wait.
		if p != 0 && p != server.RANDOM_PORT {
			l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(p)))
			if err != nil {
				return nil, fmt.Errorf("--cluster-listen %s: %w (another node or program uses it: give each node its own port)", cfg.ClusterListen, err)
			}
			l.Close()
		}
		for _, peer := range cfg.Peers {
			if _, _, err := splitHostPort(peer, "--cluster-peers"); err != nil {
				return nil, err
			}
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: peer})
		}
	} else if len(cfg.Peers) > 0 {
		return nil, errors.New("--cluster-peers needs --cluster-listen (this node's own route address)")
	}
	if cfg.JetStream {
		if cfg.StoreDir == "" {
			return nil, errors.New("JetStream needs a store directory")
		}
		opts.JetStream = true
		opts.StoreDir = cfg.StoreDir
		// Every write is fsynced before it is acknowledged: the default
		// (every 2 minutes) loses acknowledged writes on a power cut.
		opts.SyncAlways = true
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	if cfg.Log != nil {
		s.SetLoggerV2(newNATSLog(*cfg.Log), false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, errors.New("embedded NATS server did not become ready within 15s (is --cluster-listen's port free?)")
	}
	return &Embedded{S: s}, nil
}

// ClusterAddr is the address the route listener is bound to (nil without
// one).
func (e *Embedded) ClusterAddr() *net.TCPAddr { return e.S.ClusterAddr() }

// Connect opens an in-process client connection (no socket) named name.
func (e *Embedded) Connect(name string) (*nats.Conn, error) {
	return nats.Connect("", nats.InProcessServer(e.S), nats.Name(name), nats.MaxReconnects(-1))
}

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.S.Shutdown()
	e.S.WaitForShutdown()
}

// Routes is how many route connections the server has (to other nodes).
func (e *Embedded) Routes() int { return e.S.NumRoutes() }

func splitHostPort(addr, what string) (string, int, error) {
	h, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q is not HOST:PORT (%v), e.g. 127.0.0.1:6222", what, addr, err)
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("%s %q: port must be 0 to 65535", what, addr)
	}
	if h == "" {
		h = "0.0.0.0"
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return h, p, nil
}

// Interest is how many answerers of service this server knows of, its own
// clients' and those other nodes announced over routes.
func (e *Embedded) Interest(service string) int {
	return e.S.GlobalAccount().Interest(Subject(service))
}

// ClientURL is the nats:// URL clients of other processes connect to
// (empty when the server takes in-process connections only).
func (e *Embedded) ClientURL() string {
	if e.S.Addr() == nil {
		return ""
	}
	return e.S.ClientURL()
}
