package enreachemu

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

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

const maxFaultLatency = time.Hour

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
		if r.LatencyMs < 0 || time.Duration(r.LatencyMs)*time.Millisecond > maxFaultLatency {
			return fmt.Errorf("%s.latencyMs must be between 0 and %d, got %d", where, maxFaultLatency.Milliseconds(), r.LatencyMs)
		}
		if r.Latency != nil {
			if err := r.Latency.Validate(); err != nil {
				return fmt.Errorf("%s.latency.%w", where, err)
			}
		}
		if r.Ratio != nil && (math.IsNaN(*r.Ratio) || *r.Ratio < 0 || *r.Ratio > 1) {
			return fmt.Errorf("%s.ratio must be between 0 and 1, got %v", where, *r.Ratio)
		}
		if r.Count < 0 {
			return fmt.Errorf("%s.count must be >= 0 (0 = unlimited), got %d", where, r.Count)
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

// faults is the active profile, its random source and rule use counts.
type faults struct {
	mu      sync.Mutex
	profile FaultProfile
	rng     *rand.Rand
	used    []int
}

// decision is what the rules say about one request.
type decision struct {
	applied bool
	delay   time.Duration
	status  int
	body    json.RawMessage
	drop    bool
}

func (f *faults) set(p FaultProfile) {
	p = cloneProfile(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profile = p
	f.rng = rand.New(rand.NewPCG(uint64(p.Seed), uint64(p.Seed)^0x9e3779b97f4a7c15))
	f.used = make([]int, len(p.Rules))
}

func (f *faults) get() FaultProfile {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneProfile(f.profile)
}

func cloneProfile(p FaultProfile) FaultProfile {
	p.Rules = slices.Clone(p.Rules)
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Latency != nil {
			d := *r.Latency
			r.Latency = &d
		}
		if r.Ratio != nil {
			x := *r.Ratio
			r.Ratio = &x
		}
		r.Body = slices.Clone(r.Body)
	}
	if p.Rules == nil {
		p.Rules = []FaultRule{}
	}
	return p
}

func (f *faults) decide(method, path string) decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.profile.Rules {
		if r.Method != "*" && !strings.EqualFold(r.Method, method) {
			continue
		}
		if !matchPath(r.Path, path) {
			continue
		}
		if r.Count > 0 && f.used[i] >= r.Count {
			continue
		}
		if r.Ratio != nil && *r.Ratio < 1 && !(f.rng.Float64() < *r.Ratio) {
			continue
		}
		f.used[i]++
		d := decision{applied: true, delay: time.Duration(r.LatencyMs) * time.Millisecond, status: r.Status, body: r.Body, drop: r.Drop}
		if r.Latency != nil {
			d.delay = r.Latency.Sample(f.rng)
		}
		return d
	}
	return decision{}
}
