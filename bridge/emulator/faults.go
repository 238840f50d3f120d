package emulator

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/cifbridge/cifbridge/internal/faultdice"
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

// faultState is the active profile: its rules, random source and per-rule
// use counts (internal/faultdice, one mutex).
type faultState struct {
	dice faultdice.Dice[protocol.FaultRule]
	// waits is true while a rule may delay or drop an operation: the
	// emulator does not promise to answer at once then (Prompt).
	waits atomic.Bool
}

// decision is what the fault rules say about one operation.
type decision struct {
	rule  int // index of the applied rule, -1 for none
	delay time.Duration
	err   *protocol.FaultError
	drop  bool
}

func (f *faultState) set(p protocol.FaultProfile) {
	waits := false
	for _, r := range p.Rules {
		waits = waits || r.Drop || r.LatencyMs > 0 || r.Latency != nil
	}
	// Raised before the rules change and lowered after: Prompt never
	// promises an answer at once while a waiting rule is active.
	if waits {
		f.waits.Store(true)
	}
	f.dice.Set(p.Seed, p.Rules)
	if !waits {
		f.waits.Store(false)
	}
}

// waitsFor reports whether a decision makes the operation wait.
func (d decision) waits() bool { return d.drop || d.delay > 0 }

func (f *faultState) get() protocol.FaultProfile {
	seed, rules := f.dice.Profile()
	return protocol.FaultProfile{Seed: seed, Rules: rules}
}

// decide picks the rule for one operation of method (a messageType) on
// entity ("" when the call names none).
func (f *faultState) decide(method, entity string) decision {
	i, r, delay := f.dice.Roll(func(r protocol.FaultRule) bool {
		return (r.Method == "*" || strings.EqualFold(r.Method, method)) && (r.Entity == "" || r.Entity == entity)
	})
	return decision{rule: i, delay: delay, err: r.Error, drop: r.Drop}
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
