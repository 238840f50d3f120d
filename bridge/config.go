package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/bridge/workspace"
	"github.com/cifbridge/cifbridge/protocol"
)

// Config configures a Server. Zero values mean the documented default.
type Config struct {
	// Backend executes cif.* calls. Required unless HostBackend is true.
	Backend backend.Backend
	// HostBackend makes connected host peers (/v1/host) the backend.
	HostBackend bool
	// HostFallback, with HostBackend, executes the calls of sessions no
	// host peer of this node serves (a cluster: host peers on other nodes).
	HostFallback backend.Backend
	// OnHostsChanged, when set, is called after a host peer registered or
	// went away (Server.HostSessions tells what is served now).
	OnHostsChanged func()
	// ResumeElsewhere, when set, is asked by a bridge.hello resuming a
	// session this node does not hold: found true when another node held
	// it, checked the resume token (else err, -32004) and gave it up
	// (Server.ReleaseSession there); the session then lives here with the
	// same id and token.
	ResumeElsewhere func(ctx context.Context, session, token string) (found bool, err error)
	// OnHello, when set, is told of every bridge.hello before its answer
	// (which hands the widget its resume token) is sent: a cluster records
	// the session's owner there so that another node can resume it, even
	// after this one died. An error is logged; the hello still succeeds
	// (the session then resumes on this node only).
	OnHello func(ctx context.Context, h Hello) error
	// ClusterStatus, when set, fills /api/v1/status's "cluster" (the nodes).
	ClusterStatus func(ctx context.Context) *protocol.ClusterStatus
	// ClusterSessions, when set, serves GET /api/v1/sessions without
	// ?scope=local: every node's sessions (a protocol.SessionList).
	ClusterSessions http.Handler
	// EventFallback, when set, raises the events of sessions this node does
	// not hold (a cluster: on the node whose widget holds the session).
	EventFallback func(ctx context.Context, session, eventType string, eventData json.RawMessage) (json.RawMessage, error)

	// Profile is the default session profile, protocol.ProfileCIF1 ("cif1",
	// 10 s) unless set. A widget may pick another one in bridge.hello.
	Profile string
	// Timeout overrides the profile's CIF timeout for every session when > 0.
	Timeout time.Duration
	// LateWindow is how long a timed-out attempt waits for its late answer.
	// Default 10 minutes.
	LateWindow time.Duration
	// NoTimeoutLimit bounds the calls CIF runs without a timeout (openForm,
	// notifyEvent, insertNotes: they wait for the agent): past it such a
	// call is ended with -32008, never -32000 and never a late record.
	// Default 30 minutes.
	NoTimeoutLimit time.Duration
	// WorkspaceTemplates are the agent workspace's templates (nil: the
	// built-in ones, workspace.DefaultTemplates).
	WorkspaceTemplates *workspace.Templates
	// ResumeWindow is how long a session with no connection is kept so a
	// reconnecting widget can resume it. Default 2 minutes.
	ResumeWindow time.Duration

	// AllowedOrigins are extra Origin host patterns (path.Match syntax, e.g.
	// "*.crm4.dynamics.com", "https://app.example.com") accepted on the
	// WebSockets. The request's own host and loopback are always accepted.
	AllowedOrigins []string
	// AllowedHosts are extra Host header patterns (path.Match syntax, e.g.
	// "bridge.example.com", "*.corp.example") the daemon answers to besides
	// loopback and ListenAddr; any other Host is refused (DNS rebinding).
	AllowedHosts []string
	// ListenAddr is the address the daemon listens on, for the Host check:
	// its host is accepted in Host; when it is empty or unspecified
	// ("0.0.0.0:8787") any IP address is.
	ListenAddr string
	// Tokens are the per-role bearer tokens, sent as "Authorization: Bearer
	// <token>" or "?access_token=<token>" (see Tokens for who opens what).
	Tokens Tokens
	// Token is the admin token under its old name: when set and
	// Tokens.Admin is not, it becomes Tokens.Admin. (It used to open every
	// role; the admin token still does.)
	Token string
	// AllowUnauthenticated records that the operator opted in to open roles
	// on a non-loopback address; /api/v1/status repeats it.
	AllowUnauthenticated bool
	// MaxMessageBytes is the largest WebSocket message accepted; a larger one
	// closes the connection with 1009. Default 1 MiB.
	MaxMessageBytes int64
	// MaxInFlight is the most concurrent calls per session; more are answered
	// with -32003. Default 64.
	MaxInFlight int
	// MaxCallRate is the most calls (requests and notifications) per second
	// a session may make; past it they are answered -32003 with
	// data.retryAfterMs. 0: no limit (serve's --max-call-rate sets one).
	MaxCallRate float64
	// CallBurst is how many calls a session may make at once above
	// MaxCallRate. Default: two seconds' worth of MaxCallRate.
	CallBurst int
	// MaxSendBytes bounds, per connection, the bytes of answers and
	// notifications waiting to be written; a peer that lets more pile up
	// is not reading and is closed with 1008. Default 4 MiB.
	MaxSendBytes int64
	// MaxConns is the most WebSocket connections (widgets and hosts) open
	// at once; more are refused with HTTP 503 before the upgrade. Default:
	// the process's open-file limit minus 64 (so the daemon keeps
	// descriptors for its own files and admin requests), -1: no limit.
	MaxConns int
	// MaxConnsPerIP is the most WebSocket connections open at once from
	// one client IP address; more are refused with HTTP 503 before the
	// upgrade. Default 256; -1: no limit.
	MaxConnsPerIP int
	// PingInterval is how often a quiet WebSocket is pinged. Default 15 s.
	PingInterval time.Duration
	// IdleTimeout closes (1008) a WebSocket whose peer sent nothing, not
	// even a pong, for this long. Default 30 s.
	IdleTimeout time.Duration
	// ReadTimeout closes (1008) a WebSocket whose peer leaves a message
	// unfinished for this long. Default 30 s.
	ReadTimeout time.Duration
	// DrainTimeout bounds how long Shutdown waits for in-flight calls before
	// answering them with -32007. Default 10 s.
	DrainTimeout time.Duration

	// Node is this node's id in a cluster (serve's --node-id): shown in
	// /api/v1/status and put on every metric as a constant "node" label.
	// Empty: a single node, no label.
	Node string

	// Version is reported by bridge.hello and /livez.
	Version string
	// Logger receives the daemon's logs (zero value: disabled).
	Logger zerolog.Logger
	// Extra is mounted on the admin mux (path pattern → handler), e.g. the
	// emulator's /api/v1/emulator/ and /api/data/v9.2/ faces, the web UI.
	Extra map[string]http.Handler
	// OnFrame, when set, sees every frame: session, peer ("widget", "host",
	// "backend"), dir ("in" into the bridge, "out" from it) and the raw
	// message. Capture plugs in here. msg is valid during the call only (an
	// answer's buffer is reused once written): copy what you keep.
	OnFrame func(session, peer, dir string, msg []byte)
	// OnSessionEnd, when set, is called once a session has expired (no
	// connection for ResumeWindow), e.g. to drop the emulator's panel state.
	OnSessionEnd func(session string)
}

func (c *Config) setDefaults() error {
	if c.Profile == "" {
		c.Profile = protocol.ProfileCIF1
	}
	if c.Tokens.Admin == "" {
		c.Tokens.Admin = c.Token
	}
	if _, err := protocol.ProfileTimeout(c.Profile); err != nil {
		return err
	}
	if c.Timeout < 0 {
		return fmt.Errorf("cif timeout must be positive, got %v", c.Timeout)
	}
	if c.LateWindow <= 0 {
		c.LateWindow = 10 * time.Minute
	}
	if c.NoTimeoutLimit < 0 {
		return fmt.Errorf("notimeout limit must be positive, got %v", c.NoTimeoutLimit)
	}
	if c.NoTimeoutLimit == 0 {
		c.NoTimeoutLimit = DefaultNoTimeoutLimit
	}
	if c.ResumeWindow <= 0 {
		c.ResumeWindow = 2 * time.Minute
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.MaxMessageBytes < 1024 {
		return fmt.Errorf("max message bytes must be at least 1024, got %d", c.MaxMessageBytes)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64
	}
	if c.MaxInFlight < 0 {
		return fmt.Errorf("max in-flight must be positive, got %d", c.MaxInFlight)
	}
	if c.MaxCallRate < 0 {
		return fmt.Errorf("max call rate must not be negative, got %v", c.MaxCallRate)
	}
	if c.MaxCallRate > 0 && c.CallBurst <= 0 {
		c.CallBurst = max(1, int(math.Ceil(2*c.MaxCallRate)))
	}
	if c.MaxSendBytes == 0 {
		c.MaxSendBytes = rpcconn.DefaultMaxSendBytes
	}
	if c.MaxSendBytes < 1024 {
		return fmt.Errorf("max send bytes must be at least 1024, got %d", c.MaxSendBytes)
	}
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns()
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 256
	}
	if c.PingInterval < 0 || c.IdleTimeout < 0 || c.ReadTimeout < 0 {
		return errors.New("ping interval, idle timeout and read timeout must not be negative")
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.Backend == nil && !c.HostBackend {
		return errors.New("no backend configured")
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return nil
}

// DefaultNoTimeoutLimit is Config.NoTimeoutLimit's default.
const DefaultNoTimeoutLimit = 30 * time.Minute

// CIFTimeout is the CIF timeout of the default profile: Timeout when set,
// else the profile's (protocol.ProfileTimeout; 0 for an unknown profile,
// which New refuses).
func (c Config) CIFTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	profile := c.Profile
	if profile == "" {
		profile = protocol.ProfileCIF1
	}
	d, _ := protocol.ProfileTimeout(profile)
	return d
}
