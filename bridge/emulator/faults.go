package emulator

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/internal/httpjson"
	"github.com/cifbridge/cifbridge/protocol"
)

// ParseFaultProfile decodes a fault profile from JSON (unknown fields and
// trailing data refused) and validates it: what serve's --emulator-faults
// and replay --embedded --faults read.
func ParseFaultProfile(b []byte) (*protocol.FaultProfile, error) {
	var p protocol.FaultProfile
	if err := httpjson.DecodeStrict(b, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// faultState is the active profile, its random source and per-rule use
// counts, under one mutex.
type faultState struct {
	mu      sync.Mutex
	profile protocol.FaultProfile
	rng     *rand.Rand
	used    []int
}

// decision is what the fault rules say about one operation.
type decision struct {
	rule  int // index of the applied rule, -1 for none
	delay time.Duration
	err   *protocol.FaultError
	drop  bool
}

func (f *faultState) set(p protocol.FaultProfile) {
	p = cloneProfile(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profile = p
	f.rng = rand.New(rand.NewPCG(uint64(p.Seed), uint64(p.Seed)^0x9e3779b97f4a7c15))
	f.used = make([]int, len(p.Rules))
}

func (f *faultState) get() protocol.FaultProfile {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneProfile(f.profile)
}

func cloneProfile(p protocol.FaultProfile) protocol.FaultProfile {
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
		p.Rules = []protocol.FaultRule{}
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
			d.delay = r.Latency.Sample(f.rng)
		}
		return d
	}
	return decision{rule: -1}
}

// SetFaults replaces the fault profile, restarting its random source and
// rule counts.
func (e *Emulator) SetFaults(p protocol.FaultProfile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	e.faults.set(p)
	return nil
}

// Faults returns the active fault profile.
func (e *Emulator) Faults() protocol.FaultProfile { return e.faults.get() }
