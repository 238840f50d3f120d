package emulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// FaultProfile is the fault-injection setup. Rules are tried in order for
// every operation; the first rule whose method and entity match, whose count
// is not used up and whose ratio draw succeeds applies (so "10% errors, else
// 200 ms" is two rules). Draws come from a PCG seeded with Seed, so a run
// with the same profile and the same sequence of operations is repeatable.
//
// JSON: {"seed":1,"rules":[{"method":"createrecord","entity":"contact",
// "latencyMs":3000,"ratio":1.0,"count":1,"error":{"status":503,
// "code":"0x80040216","message":"…"},"drop":false}]}
type FaultProfile struct {
	Seed  int64       `json:"seed"`
	Rules []FaultRule `json:"rules"`
}

// FaultRule is one fault-injection rule.
type FaultRule struct {
	// Method is the CIF messageType ("createrecord", "search", "execute" for
	// xrm.execute, …) or "*" for every method. Required; case-insensitive.
	Method string `json:"method"`
	// Entity restricts the rule to one logical name; empty matches all.
	Entity string `json:"entity,omitempty"`
	// LatencyMs delays the operation by a fixed time. Latency, when set,
	// replaces it with a random draw.
	LatencyMs int   `json:"latencyMs,omitempty"`
	Latency   *Dist `json:"latency,omitempty"`
	// Ratio is the probability the rule applies to a matching operation,
	// 0..1; nil means 1.
	Ratio *float64 `json:"ratio,omitempty"`
	// Count applies the rule to the first Count matching operations only;
	// 0 means unlimited.
	Count int `json:"count,omitempty"`
	// Error answers with this Dataverse error (after the latency) instead
	// of executing the operation.
	Error *FaultError `json:"error,omitempty"`
	// Drop loses the request: it is not executed and Execute returns only
	// when its context ends.
	Drop bool `json:"drop,omitempty"`
}

// Dist is a latency distribution in milliseconds. Kinds:
// "uniform" (minMs..maxMs), "normal" (meanMs, stddevMs, clamped to
// minMs..maxMs when maxMs > 0, never below minMs) and "exponential"
// (minMs + an exponential draw with mean meanMs, capped at maxMs when > 0).
type Dist struct {
	Kind     string  `json:"kind"`
	MinMs    float64 `json:"minMs,omitempty"`
	MaxMs    float64 `json:"maxMs,omitempty"`
	MeanMs   float64 `json:"meanMs,omitempty"`
	StddevMs float64 `json:"stddevMs,omitempty"`
}

// FaultError is an injected Dataverse error.
type FaultError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// maxFaultLatency bounds injected latency (one hour).
const maxFaultLatency = time.Hour

// faultMethods are the method names a rule may use (lower-cased).
var faultMethods = []string{
	"*", "createrecord", "retrieverecord", "updaterecord", "deleterecord", "search", "searchandopenrecords",
	"getenvironment", "getentitymetadata", "setclicktoact", "getclicktoact", "setmode", "getmode",
	"setwidth", "getwidth", "openform", "refreshform", "rendersearchpage", "execute",
}

// ParseFaultProfile decodes a fault profile from JSON (unknown fields and
// trailing data refused) and validates it: what serve's --emulator-faults
// and replay --embedded --faults read.
func ParseFaultProfile(b []byte) (*FaultProfile, error) {
	var p FaultProfile
	if err := decodeStrict(b, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks a profile; errors name the rule and field.
func (p FaultProfile) Validate() error {
	for i, r := range p.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if r.Method == "" {
			return fmt.Errorf("%s.method is required (a CIF messageType like \"createrecord\", or \"*\")", where)
		}
		if !slices.Contains(faultMethods, strings.ToLower(r.Method)) {
			return fmt.Errorf("%s.method %q is not a known method (one of %s)", where, r.Method, strings.Join(faultMethods, ", "))
		}
		if r.LatencyMs < 0 || time.Duration(r.LatencyMs)*time.Millisecond > maxFaultLatency {
			return fmt.Errorf("%s.latencyMs must be between 0 and %d, got %d", where, maxFaultLatency.Milliseconds(), r.LatencyMs)
		}
		if r.Latency != nil {
			if err := r.Latency.validate(); err != nil {
				return fmt.Errorf("%s.latency.%w", where, err)
			}
		}
		if r.Ratio != nil && (math.IsNaN(*r.Ratio) || *r.Ratio < 0 || *r.Ratio > 1) {
			return fmt.Errorf("%s.ratio must be between 0 and 1, got %v", where, *r.Ratio)
		}
		if r.Count < 0 {
			return fmt.Errorf("%s.count must be >= 0 (0 = unlimited), got %d", where, r.Count)
		}
		if r.Error != nil {
			if r.Drop {
				return fmt.Errorf("%s: error and drop exclude each other", where)
			}
			if r.Error.Status < 400 || r.Error.Status > 599 {
				return fmt.Errorf("%s.error.status must be an HTTP error status 400..599, got %d", where, r.Error.Status)
			}
			if r.Error.Code == "" {
				return fmt.Errorf("%s.error.code is required (a Dataverse hex code like \"0x80040216\")", where)
			}
			if r.Error.Message == "" {
				return fmt.Errorf("%s.error.message is required", where)
			}
		}
	}
	return nil
}

func (d *Dist) validate() error {
	maxMs := float64(maxFaultLatency.Milliseconds())
	if d.MinMs < 0 || d.MaxMs < 0 || d.MeanMs < 0 || d.StddevMs < 0 || d.MinMs > maxMs || d.MaxMs > maxMs || d.MeanMs > maxMs {
		return fmt.Errorf("kind %q: values must be between 0 and %v ms", d.Kind, maxMs)
	}
	switch d.Kind {
	case "uniform":
		if d.MaxMs < d.MinMs {
			return fmt.Errorf("maxMs (%v) must be >= minMs (%v)", d.MaxMs, d.MinMs)
		}
	case "normal":
		if d.MaxMs > 0 && d.MaxMs < d.MinMs {
			return fmt.Errorf("maxMs (%v) must be >= minMs (%v)", d.MaxMs, d.MinMs)
		}
	case "exponential":
		if d.MeanMs <= 0 {
			return fmt.Errorf("meanMs must be > 0 for kind \"exponential\"")
		}
	default:
		return fmt.Errorf("kind must be \"uniform\", \"normal\" or \"exponential\", got %q", d.Kind)
	}
	return nil
}

func (d *Dist) sample(rng *rand.Rand) time.Duration {
	var ms float64
	switch d.Kind {
	case "uniform":
		ms = d.MinMs + rng.Float64()*(d.MaxMs-d.MinMs)
	case "normal":
		ms = max(d.MeanMs+rng.NormFloat64()*d.StddevMs, d.MinMs)
	case "exponential":
		ms = d.MinMs + rng.ExpFloat64()*d.MeanMs
	}
	if d.MaxMs > 0 {
		ms = min(ms, d.MaxMs)
	}
	ms = min(max(ms, 0), float64(maxFaultLatency.Milliseconds()))
	return time.Duration(ms * float64(time.Millisecond))
}

// faultState is the active profile, its random source and per-rule use
// counts, under one mutex.
type faultState struct {
	mu      sync.Mutex
	profile FaultProfile
	rng     *rand.Rand
	used    []int
}

// decision is what the fault rules say about one operation.
type decision struct {
	rule  int // index of the applied rule, -1 for none
	delay time.Duration
	err   *FaultError
	drop  bool
}

func (f *faultState) set(p FaultProfile) {
	p = cloneProfile(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profile = p
	f.rng = rand.New(rand.NewPCG(uint64(p.Seed), uint64(p.Seed)^0x9e3779b97f4a7c15))
	f.used = make([]int, len(p.Rules))
}

func (f *faultState) get() FaultProfile {
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
		if r.Error != nil {
			x := *r.Error
			r.Error = &x
		}
	}
	if p.Rules == nil {
		p.Rules = []FaultRule{}
	}
	return p
}

// decide picks the rule for one operation of method (a messageType) on
// entity ("" when the call names none).
func (f *faultState) decide(method, entity string) decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.profile.Rules {
		if r.Method != "*" && !strings.EqualFold(r.Method, method) {
			continue
		}
		if r.Entity != "" && r.Entity != entity {
			continue
		}
		if r.Count > 0 && f.used[i] >= r.Count {
			continue
		}
		if r.Ratio != nil && *r.Ratio < 1 && !(f.rng.Float64() < *r.Ratio) {
			continue
		}
		f.used[i]++
		d := decision{rule: i, delay: time.Duration(r.LatencyMs) * time.Millisecond, err: r.Error, drop: r.Drop}
		if r.Latency != nil {
			d.delay = r.Latency.sample(f.rng)
		}
		return d
	}
	return decision{rule: -1}
}

// SetFaults replaces the fault profile, restarting its random source and
// rule counts.
func (e *Emulator) SetFaults(p FaultProfile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	e.faults.set(p)
	return nil
}

// Faults returns the active fault profile.
func (e *Emulator) Faults() FaultProfile { return e.faults.get() }
