package protocol

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The Dataverse emulator's fault profile: the body of GET and PUT
// /api/v1/emulator/faults, serve's --emulator-faults file and replay's
// --faults. The Enreach emulator's rules share Dist and FaultTiming.

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

// FaultError is an injected Dataverse error. RetryAfterMs, when set, is
// sent as the answer's Retry-After header (whole seconds, rounded up), as
// Dataverse's service protection limits send one with every 429; through
// the CIF path it is the error's data.retryAfterMs, which the retry engine
// waits at least.
type FaultError struct {
	Status       int    `json:"status"`
	Code         string `json:"code"`
	Message      string `json:"message"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
}

// MaxFaultLatency bounds injected latency (one hour).
const MaxFaultLatency = time.Hour

// faultMethods are the method names a Dataverse emulator rule may use
// (lower-cased).
var faultMethods = []string{
	"*", "createrecord", "retrieverecord", "updaterecord", "deleterecord", "search", "searchandopenrecords",
	"getenvironment", "getentitymetadata", "setclicktoact", "getclicktoact", "setmode", "getmode",
	"setwidth", "getwidth", "openform", "refreshform", "rendersearchpage", "execute",
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
		if err := r.Timing().Validate(where); err != nil {
			return err
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
			if r.Error.RetryAfterMs < 0 || r.Error.RetryAfterMs > MaxFaultLatency.Milliseconds() {
				return fmt.Errorf("%s.error.retryAfterMs must be between 0 and %d, got %d", where, MaxFaultLatency.Milliseconds(), r.Error.RetryAfterMs)
			}
		}
	}
	return nil
}

// FaultTiming is the part of a fault rule every emulator's rules share:
// how long a rule that applies waits (LatencyMs, or a draw from Latency),
// how likely it applies (Ratio, nil = always) and to how many operations
// (Count, 0 = all). FaultRule.Timing and the Enreach emulator's rule
// return it; internal/faultdice acts on it.
type FaultTiming struct {
	LatencyMs int
	Latency   *Dist
	Ratio     *float64
	Count     int
}

// Timing returns r's timing fields.
func (r FaultRule) Timing() FaultTiming {
	return FaultTiming{LatencyMs: r.LatencyMs, Latency: r.Latency, Ratio: r.Ratio, Count: r.Count}
}

// Clone returns a copy of r that shares no pointer with it.
func (r FaultRule) Clone() FaultRule {
	r.Latency, r.Ratio, r.Error = clonePtr(r.Latency), clonePtr(r.Ratio), clonePtr(r.Error)
	return r
}

// Clone returns a copy of t that shares no pointer with it (what a rule
// with these fields copies).
func (t FaultTiming) Clone() FaultTiming {
	t.Latency, t.Ratio = clonePtr(t.Latency), clonePtr(t.Ratio)
	return t
}

// Validate checks the timing fields of the rule named where ("rules[2]");
// errors name the field.
func (t FaultTiming) Validate(where string) error {
	if t.LatencyMs < 0 || time.Duration(t.LatencyMs)*time.Millisecond > MaxFaultLatency {
		return fmt.Errorf("%s.latencyMs must be between 0 and %d, got %d", where, MaxFaultLatency.Milliseconds(), t.LatencyMs)
	}
	if t.Latency != nil {
		if err := t.Latency.Validate(); err != nil {
			return fmt.Errorf("%s.latency.%w", where, err)
		}
	}
	if t.Ratio != nil && (math.IsNaN(*t.Ratio) || *t.Ratio < 0 || *t.Ratio > 1) {
		return fmt.Errorf("%s.ratio must be between 0 and 1, got %v", where, *t.Ratio)
	}
	if t.Count < 0 {
		return fmt.Errorf("%s.count must be >= 0 (0 = unlimited), got %d", where, t.Count)
	}
	return nil
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// Validate checks a distribution (fault rules of every emulator share
// Dist); errors name the field.
func (d *Dist) Validate() error {
	maxMs := float64(MaxFaultLatency.Milliseconds())
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

// Sample draws one latency from d with rng, clamped to 0..1 h.
func (d *Dist) Sample(rng *rand.Rand) time.Duration {
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
	ms = min(max(ms, 0), float64(MaxFaultLatency.Milliseconds()))
	return time.Duration(ms * float64(time.Millisecond))
}
