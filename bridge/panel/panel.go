// Package panel keeps the per-session panel state CIF gives a provider
// (clickToAct, mode, width) for the backends that have nowhere else to
// keep it: the Dataverse backend and the emulator. Parse validates one
// set/get call as CIF does and returns what it does to the state; Table
// holds the states of the sessions.
//
// Entry points: Parse, Table.
package panel

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// Defaults of the panel state, as CIF starts a provider.
const (
	DefaultClickToAct = true
	DefaultMode       = 1 // docked
	DefaultWidth      = 320
)

// State is one session's panel state.
type State struct {
	ClickToAct bool
	Mode       int
	Width      float64
}

// MessageTypes are the messageTypes Parse serves.
var MessageTypes = []string{"setclicktoact", "getclicktoact", "setmode", "getmode", "setwidth", "getwidth"}

// Parse validates a set/get clicktoact, mode or width call (messageType as
// protocol.MessageType gives it) and returns what it does to a session's
// state; what that returns is the call's answer.
func Parse(messageType string, params json.RawMessage) (func(s *State) any, error) {
	var v protocol.ValueParams
	if strings.HasPrefix(messageType, "set") {
		if err := protocol.DecodeParams(params, &v); err != nil {
			return nil, err
		}
		v.Value = bytes.TrimSpace(v.Value)
	}
	switch messageType {
	case "setclicktoact":
		var on bool
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &on) != nil {
			return nil, protocol.InvalidParams("The setClickToAct parameter value must be true or false.")
		}
		return func(s *State) any { s.ClickToAct = on; return nil }, nil
	case "getclicktoact":
		return func(s *State) any { return s.ClickToAct }, nil
	case "setmode":
		var f float64
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &f) != nil || (f != 0 && f != 1 && f != 2) {
			return nil, protocol.InvalidParams("The setMode paramter value must be 0, 1 or 2.")
		}
		return func(s *State) any { s.Mode = int(f); return nil }, nil
	case "getmode":
		return func(s *State) any { return s.Mode }, nil
	case "setwidth":
		var f float64
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &f) != nil || f < 0 || math.IsInf(f, 0) {
			return nil, protocol.InvalidParams("The setWidth parameter value must be a number greater than or equal to 0.")
		}
		return func(s *State) any { s.Width = f; return nil }, nil
	case "getwidth":
		return func(s *State) any { return s.Width }, nil
	}
	return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %s", messageType)
}

// Table is the panel states of the sessions, under one mutex. A session's
// state starts at the defaults. With Idle > 0, states untouched for longer
// than Idle are dropped lazily once the table holds SweepAt of them. The
// zero Table keeps every state until Forget or Reset.
type Table struct {
	Idle    time.Duration
	SweepAt int

	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	State
	used time.Time
}

// With runs f on session's state at time now and returns what f returns.
func (t *Table) With(session string, now time.Time, f func(s *State) any) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*entry{}
	}
	e := t.m[session]
	if e == nil {
		if t.Idle > 0 && len(t.m) >= t.SweepAt {
			for id, x := range t.m {
				if now.Sub(x.used) > t.Idle {
					delete(t.m, id)
				}
			}
		}
		e = &entry{State: State{ClickToAct: DefaultClickToAct, Mode: DefaultMode, Width: DefaultWidth}}
		t.m[session] = e
	}
	e.used = now
	return f(&e.State)
}

// Forget drops the state of a closed session.
func (t *Table) Forget(session string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, session)
}

// Reset drops every state.
func (t *Table) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m = nil
}
