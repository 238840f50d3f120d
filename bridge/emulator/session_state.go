package emulator

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"sync"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// Defaults of the per-session panel state, as CIF starts a provider.
const (
	DefaultClickToAct = true
	DefaultMode       = 1 // docked
	DefaultWidth      = 320
)

// sessionState is the panel state one widget session set.
type sessionState struct {
	clickToAct bool
	mode       int
	width      float64
}

type sessionTable struct {
	mu sync.Mutex
	m  map[string]*sessionState
}

func (t *sessionTable) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m = nil
}

// with runs f on the session's state, creating it with defaults.
func (t *sessionTable) with(session string, f func(s *sessionState)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*sessionState{}
	}
	s := t.m[session]
	if s == nil {
		s = &sessionState{clickToAct: DefaultClickToAct, mode: DefaultMode, width: DefaultWidth}
		t.m[session] = s
	}
	f(s)
}

// ForgetSession drops the panel state of a closed session.
func (e *Emulator) ForgetSession(session string) {
	e.sessions.mu.Lock()
	defer e.sessions.mu.Unlock()
	delete(e.sessions.m, session)
}

// parsePanel validates a set/get clicktoact, mode or width call and
// returns what to do with the session's state; its result is the answer.
func parsePanel(messageType string, params json.RawMessage) (func(s *sessionState) any, error) {
	var v protocol.ValueParams
	if strings.HasPrefix(messageType, "set") {
		if err := protocol.DecodeParams(params, &v); err != nil {
			return nil, err
		}
		v.Value = bytes.TrimSpace(v.Value)
	}
	switch messageType {
	case "setclicktoact":
		var b bool
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &b) != nil {
			return nil, protocol.InvalidParams("The setClickToAct parameter value must be true or false.")
		}
		return func(s *sessionState) any { s.clickToAct = b; return nil }, nil
	case "getclicktoact":
		return func(s *sessionState) any { return s.clickToAct }, nil
	case "setmode":
		var f float64
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &f) != nil || (f != 0 && f != 1 && f != 2) {
			return nil, protocol.InvalidParams("The setMode paramter value must be 0, 1 or 2.")
		}
		return func(s *sessionState) any { s.mode = int(f); return nil }, nil
	case "getmode":
		return func(s *sessionState) any { return s.mode }, nil
	case "setwidth":
		var f float64
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &f) != nil || f < 0 || math.IsInf(f, 0) {
			return nil, protocol.InvalidParams("The setWidth parameter value must be a number greater than or equal to 0.")
		}
		return func(s *sessionState) any { s.width = f; return nil }, nil
	case "getwidth":
		return func(s *sessionState) any { return s.width }, nil
	}
	return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %s", messageType)
}

func (e *Emulator) prepPanel(a *correlation.Attempt) (prepared, error) {
	params, err := a.RawParams()
	if err != nil {
		return prepared{}, err
	}
	apply, err := parsePanel(protocol.MessageType(a.Method), params)
	if err != nil {
		return prepared{}, err
	}
	return prepared{run: func() (json.RawMessage, error) {
		var out any
		e.sessions.with(a.Session, func(s *sessionState) { out = apply(s) })
		return jsonResult(out)
	}}, nil
}
