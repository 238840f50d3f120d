package enreachemu

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/internal/faultdice"
	"github.com/cifbridge/cifbridge/protocol"
)

// FaultProfile is the Enreach emulator's fault setup, in the shape of the
// Dataverse emulator's (protocol.FaultProfile): rules tried in order, the
// first whose method and path match, whose count is not used up and whose
// ratio draw succeeds applies; draws come from a PCG seeded with Seed.
type FaultProfile struct {
	Seed  int64       `json:"seed"`
	Rules []FaultRule `json:"rules"`
}

// FaultRule is one rule. It has the Dataverse rule's fields, with Path in
// place of Entity and Status/Body in place of its Dataverse error (the
// Enreach API has no documented error body).
type FaultRule struct {
	// Method is the HTTP method or "*". Required.
	Method string `json:"method"`
	// Path restricts the rule to a request path ("/users/me", a final "*"
	// matches any rest: "/users/*"); empty matches all.
	Path string `json:"path,omitempty"`
	// LatencyMs delays the answer; Latency replaces it with a random draw
	// (protocol.Dist: uniform, normal, exponential).
	LatencyMs int            `json:"latencyMs,omitempty"`
	Latency   *protocol.Dist `json:"latency,omitempty"`
	// Ratio is the probability the rule applies, 0..1; nil means 1.
	Ratio *float64 `json:"ratio,omitempty"`
	// Count applies the rule to the first Count matching requests; 0: all.
	Count int `json:"count,omitempty"`
	// Status answers with this HTTP status (400..599) instead of serving the
	// request; Body is its JSON body (default {"Message":"<status text>"}).
	Status int             `json:"status,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
	// Drop never answers: the request ends when the caller gives up.
	Drop bool `json:"drop,omitempty"`
}

// Validate checks a profile; errors name the rule and field.
func (p FaultProfile) Validate() error {
	for i, r := range p.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if !validMethod(r.Method, true) {
			return fmt.Errorf("%s.method must be GET, POST, PUT, PATCH, DELETE or *, got %q", where, r.Method)
		}
		if r.Path != "" {
			if err := validPath(r.Path); err != nil {
				return fmt.Errorf("%s.path: %w", where, err)
			}
		}
		if err := r.Timing().Validate(where); err != nil {
			return err
		}
		if r.Status != 0 && (r.Status < 400 || r.Status > 599) {
			return fmt.Errorf("%s.status must be an HTTP error status 400..599, got %d", where, r.Status)
		}
		if len(r.Body) > 0 && r.Status == 0 {
			return fmt.Errorf("%s.body needs a status", where)
		}
		if len(r.Body) > 0 && !json.Valid(r.Body) {
			return fmt.Errorf("%s.body is not valid JSON", where)
		}
		if r.Drop && r.Status != 0 {
			return fmt.Errorf("%s: status and drop exclude each other", where)
		}
	}
	return nil
}

// Timing returns r's timing fields (those it shares with the Dataverse
// emulator's rules).
func (r FaultRule) Timing() protocol.FaultTiming {
	return protocol.FaultTiming{LatencyMs: r.LatencyMs, Latency: r.Latency, Ratio: r.Ratio, Count: r.Count}
}

// Clone returns a copy of r that shares no pointer or slice with it.
func (r FaultRule) Clone() FaultRule {
	t := r.Timing().Clone()
	r.Latency, r.Ratio, r.Body = t.Latency, t.Ratio, slices.Clone(r.Body)
	return r
}

// faults is the active profile: its rules, random source and rule use
// counts (internal/faultdice, one mutex).
type faults struct {
	dice faultdice.Dice[FaultRule]
}

// decision is what the rules say about one request.
type decision struct {
	applied bool
	delay   time.Duration
	status  int
	body    json.RawMessage
	drop    bool
}

func (f *faults) set(p FaultProfile) { f.dice.Set(p.Seed, p.Rules) }

func (f *faults) get() FaultProfile {
	seed, rules := f.dice.Profile()
	return FaultProfile{Seed: seed, Rules: rules}
}

func (f *faults) decide(method, path string) decision {
	i, r, delay := f.dice.Roll(func(r FaultRule) bool {
		return (r.Method == "*" || strings.EqualFold(r.Method, method)) && matchPath(r.Path, path)
	})
	return decision{applied: i >= 0, delay: delay, status: r.Status, body: r.Body, drop: r.Drop}
}
