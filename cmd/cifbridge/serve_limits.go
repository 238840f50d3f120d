package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

// The limits plug-in: what one client may cost the daemon, beyond
// --max-message-bytes and --max-inflight (serve.go). README "Limits" lists
// them all with what happens past each.
type limitsPlugin struct {
	noSteps
	maxSendBytes  int64
	maxCallRate   float64
	callBurst     int
	maxConns      int
	maxConnsPerIP int
	pingInterval  time.Duration
	idleTimeout   time.Duration
	readTimeout   time.Duration
}

// defaultMaxCallRate is --max-call-rate's default: far above what a person
// at a widget causes, low enough to stop a runaway script.
const defaultMaxCallRate = 200

func (p *limitsPlugin) flags(fs *flag.FlagSet) {
	fs.Int64Var(&p.maxSendBytes, "max-send-bytes", rpcconn.DefaultMaxSendBytes, "per connection, most `bytes` of answers and notifications waiting to be written; a client that lets more pile up is not reading and is closed with 1008")
	fs.Float64Var(&p.maxCallRate, "max-call-rate", defaultMaxCallRate, "per session, most `calls/s` (requests and notifications); past it calls get -32003 with data.retryAfterMs; 0: no limit (load tests)")
	fs.IntVar(&p.callBurst, "call-burst", 0, "per session, `calls` allowed at once above --max-call-rate (default: 2 × the rate)")
	fs.IntVar(&p.maxConns, "max-conns", 0, "most WebSocket `connections` open at once; more get HTTP 503 before the upgrade (default: the open-file limit minus 64; -1: no limit)")
	fs.IntVar(&p.maxConnsPerIP, "max-conns-per-ip", 256, "most WebSocket `connections` open at once from one client IP; more get HTTP 503 before the upgrade (-1: no limit)")
	fs.DurationVar(&p.pingInterval, "ping-interval", 15*time.Second, "`interval` at which a quiet WebSocket is pinged; a browser answers pings by itself")
	fs.DurationVar(&p.idleTimeout, "idle-timeout", 30*time.Second, "close (1008) a WebSocket whose peer sent nothing, not even a pong, for this `duration`")
	fs.DurationVar(&p.readTimeout, "read-timeout", 30*time.Second, "close (1008) a WebSocket whose peer leaves a message unfinished for this `duration`")
}

func (p *limitsPlugin) configure(env *serveEnv) error {
	switch {
	case p.maxSendBytes < 1024:
		return usageError{fmt.Errorf("--max-send-bytes must be at least 1024, got %d", p.maxSendBytes)}
	case p.maxCallRate < 0:
		return usageError{fmt.Errorf("--max-call-rate must be 0 (no limit) or positive, got %v", p.maxCallRate)}
	case p.callBurst < 0:
		return usageError{fmt.Errorf("--call-burst must not be negative, got %d", p.callBurst)}
	case p.maxConns < -1 || p.maxConnsPerIP < -1 || p.maxConnsPerIP == 0:
		return usageError{fmt.Errorf("--max-conns and --max-conns-per-ip take a positive count or -1 (no limit)")}
	case p.pingInterval <= 0 || p.idleTimeout <= 0 || p.readTimeout <= 0:
		return usageError{fmt.Errorf("--ping-interval, --idle-timeout and --read-timeout must be positive")}
	case p.idleTimeout < 2*p.pingInterval:
		return usageError{fmt.Errorf("--idle-timeout (%v) must be at least twice --ping-interval (%v), or a live client would be closed between pings", p.idleTimeout, p.pingInterval)}
	}
	c := env.Config
	c.MaxSendBytes, c.MaxCallRate, c.CallBurst = p.maxSendBytes, p.maxCallRate, p.callBurst
	c.MaxConns, c.MaxConnsPerIP = p.maxConns, p.maxConnsPerIP
	c.PingInterval, c.IdleTimeout, c.ReadTimeout = p.pingInterval, p.idleTimeout, p.readTimeout
	return nil
}
