package loadtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// ErrUsage marks errors caused by the caller's input (bad flags, an
// unreachable URL): the command exits with status 2 on them.
var ErrUsage = errors.New("bad input")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// DefaultDrain is how long a run waits, at most, for the calls still
// outstanding after its last send: an enreach.xrm call the retry engine
// retries with its defaults takes up to 4 attempts of CIF 1.0's 10 s plus
// 3 delays of 1 s. With the CIF 2.0 profile (100 s) raise it.
const DefaultDrain = time.Duration(protocol.DefaultMaxRetries+1)*10*time.Second +
	time.Duration(protocol.DefaultMaxRetries*protocol.DefaultDelayMs)*time.Millisecond + 2*time.Second

// Config configures Run. Zero values mean the documented default.
type Config struct {
	// URL is the widget endpoint, ws://HOST:PORT/v1/widget. Required unless
	// URLs is set. The admin API (faults, stats) is reached on the same
	// host and port.
	URL string
	// URLs are several widget endpoints (the nodes of a cluster): sessions
	// are spread over them round-robin (session i on URLs[i % len]). The
	// emulator's admin API (faults, ground truth) is the first URL whose
	// bridge serves it. When set, URL is ignored.
	URLs []string
	// AllowRemote permits a host that is not loopback. Off by default so a
	// typo cannot load someone else's server.
	AllowRemote bool
	// Token is sent as "Authorization: Bearer …" on the WebSocket and the
	// admin calls when set.
	Token string

	// Sessions is the number of concurrent widget sessions, each its own
	// WebSocket. Default 1.
	Sessions int
	// Rate is the offered load in calls per second over all sessions (open
	// loop). Exactly one of Rate > 0 and Closed must be chosen.
	Rate float64
	// Closed selects the closed loop: every session keeps InFlight calls
	// outstanding.
	Closed bool
	// InFlight is the closed loop's calls per session. Default 1.
	InFlight int
	// MaxInFlight caps outstanding calls per session in the open loop; a
	// send that would exceed it is dropped. Default 64 (the bridge's own
	// --max-inflight default, so the generator never provokes -32003).
	MaxInFlight int
	// MaxSendLag is how far behind schedule a send may be before it is
	// dropped (the generator is saturated). Default 1 s.
	MaxSendLag time.Duration

	// Duration is the measured phase. Default 10 s.
	Duration time.Duration
	// Warmup runs before the measured phase; its calls reach the bridge and
	// the ground truth but not the latency statistics. Default 0.
	Warmup time.Duration
	// MaxDuration hard-caps the whole run (connect, seed, warmup, measured
	// phase, drain, late-answer wait). Default Warmup + Duration + Drain +
	// LateWait + 30 s.
	MaxDuration time.Duration
	// Drain bounds the wait for outstanding answers after the last send;
	// the wait ends as soon as every call is answered. Default DefaultDrain.
	Drain time.Duration
	// LateWait bounds the wait for bridge.late notifications after the
	// drain, until every timed-out call's late answer has arrived.
	// Default 15 s.
	LateWait time.Duration

	// Mix is the method mix; nil means DefaultMix.
	Mix Mix
	// SeedRecords is how many contacts are created before the run so that
	// retrieves and updates have ids to pick from. Default 20; -1 for none.
	SeedRecords int
	// Faults is an emulator fault profile (JSON) PUT to
	// /api/v1/emulator/faults before the run. nil leaves the faults alone.
	Faults []byte
	// Seed makes payload choices repeatable. Default 1.
	Seed uint64

	// Echo treats echoed requests as successful answers: the raw echo
	// baseline of the bench suite. Ground truth is skipped.
	Echo bool
	// NoGroundTruth skips the emulator stats (e.g. the host backend).
	NoGroundTruth bool

	// Progress receives a line per second; nil means none. ProgressTTY
	// rewrites one line in place instead.
	Progress    interface{ Write([]byte) (int, error) }
	ProgressTTY bool
}

func (c *Config) setDefaults() error {
	if len(c.URLs) == 0 && c.URL != "" {
		c.URLs = []string{c.URL}
	}
	if len(c.URLs) == 0 {
		return usagef("--url is required, e.g. ws://127.0.0.1:8787%s", protocol.PathWidget)
	}
	seen := map[string]bool{}
	for _, raw := range c.URLs {
		if err := c.checkURL(raw); err != nil {
			return err
		}
		if seen[raw] {
			return usagef("--url %q is listed twice: give each bridge once (sessions are spread over them round-robin)", raw)
		}
		seen[raw] = true
	}
	c.URL = c.URLs[0]
	if c.Sessions == 0 {
		c.Sessions = 1
	}
	if c.Sessions < 0 {
		return usagef("--sessions must be at least 1, got %d", c.Sessions)
	}
	if c.Sessions < len(c.URLs) {
		return usagef("--sessions %d is fewer than the %d --url bridges: give at least one session per bridge, e.g. --sessions %d", c.Sessions, len(c.URLs), len(c.URLs))
	}
	if c.Closed && c.Rate > 0 {
		return usagef("choose either --rate (open loop) or --closed, not both")
	}
	if !c.Closed && !(c.Rate > 0) {
		return usagef("--rate must be greater than 0 calls/s (or use --closed), got %v", c.Rate)
	}
	if c.InFlight == 0 {
		c.InFlight = 1
	}
	if c.InFlight < 0 {
		return usagef("--inflight must be at least 1, got %d", c.InFlight)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64
	}
	if c.MaxInFlight < 0 {
		return usagef("--max-inflight must be at least 1, got %d", c.MaxInFlight)
	}
	if c.MaxSendLag <= 0 {
		c.MaxSendLag = time.Second
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration < 0 || c.Warmup < 0 {
		return usagef("--duration and --warmup must not be negative")
	}
	if c.Drain < 0 || c.LateWait < 0 {
		return usagef("--drain and --late-wait must not be negative (0: the default)")
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	if c.LateWait == 0 {
		c.LateWait = 15 * time.Second
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = c.Warmup + c.Duration + c.Drain + c.LateWait + 30*time.Second
	}
	if c.MaxDuration < 0 {
		return usagef("--max-duration must be positive")
	}
	if c.Mix == nil {
		c.Mix = DefaultMix()
	}
	if len(c.Mix) == 0 {
		return usagef("--mix is empty")
	}
	if c.SeedRecords == 0 {
		c.SeedRecords = 20
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return nil
}

// checkURL checks one widget endpoint.
func (c *Config) checkURL(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return usagef("--url has an empty entry: separate URLs with single commas, e.g. --url ws://127.0.0.1:8787%s,ws://127.0.0.1:8788%s", protocol.PathWidget, protocol.PathWidget)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return usagef("--url %q: %v", raw, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return usagef("--url %q: the scheme must be ws:// or wss://", raw)
	}
	host := u.Hostname()
	if host == "" {
		return usagef("--url %q has no host", raw)
	}
	if !c.AllowRemote && !isLoopback(host) {
		return usagef("--url host %q is not loopback; pass --allow-remote to load a remote bridge", host)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
