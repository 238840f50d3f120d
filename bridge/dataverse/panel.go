package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// Defaults of the per-session panel state, as CIF starts a provider (the
// same as the emulator's).
const (
	DefaultClickToAct = true
	DefaultMode       = 1 // docked
	DefaultWidth      = 320
)

// panelIdle is how long an untouched session's panel state is kept; states
// are dropped lazily once there are more than panelSweepAt of them.
const (
	panelIdle    = 12 * time.Hour
	panelSweepAt = 1024
)

type panelState struct {
	clickToAct bool
	mode       int
	width      float64
	used       time.Time
}

// panelTable is the per-session clicktoact/mode/width state: Dataverse has
// nothing to store it in.
type panelTable struct {
	mu sync.Mutex
	m  map[string]*panelState
}

func (t *panelTable) with(session string, now time.Time, f func(s *panelState) any) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*panelState{}
	}
	s := t.m[session]
	if s == nil {
		if len(t.m) >= panelSweepAt {
			for id, x := range t.m {
				if now.Sub(x.used) > panelIdle {
					delete(t.m, id)
				}
			}
		}
		s = &panelState{clickToAct: DefaultClickToAct, mode: DefaultMode, width: DefaultWidth}
		t.m[session] = s
	}
	s.used = now
	return f(s)
}

func (b *Backend) panel(_ context.Context, a attempt, params json.RawMessage) (json.RawMessage, error) {
	var v protocol.ValueParams
	if strings.HasPrefix(a.messageType, "set") {
		if err := protocol.DecodeParams(params, &v); err != nil {
			return nil, err
		}
		v.Value = bytes.TrimSpace(v.Value)
	}
	var apply func(s *panelState) any
	switch a.messageType {
	case "setclicktoact":
		var on bool
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &on) != nil {
			return nil, protocol.InvalidParams("The setClickToAct parameter value must be true or false.")
		}
		apply = func(s *panelState) any { s.clickToAct = on; return nil }
	case "getclicktoact":
		apply = func(s *panelState) any { return s.clickToAct }
	case "setmode":
		var f float64
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &f) != nil || (f != 0 && f != 1 && f != 2) {
			return nil, protocol.InvalidParams("The setMode paramter value must be 0, 1 or 2.")
		}
		apply = func(s *panelState) any { s.mode = int(f); return nil }
	case "getmode":
		apply = func(s *panelState) any { return s.mode }
	case "setwidth":
		var f float64
		if len(v.Value) == 0 || json.Unmarshal(v.Value, &f) != nil || f < 0 || math.IsInf(f, 0) {
			return nil, protocol.InvalidParams("The setWidth parameter value must be a number greater than or equal to 0.")
		}
		apply = func(s *panelState) any { s.width = f; return nil }
	case "getwidth":
		apply = func(s *panelState) any { return s.width }
	default:
		return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %s", a.method)
	}
	return json.Marshal(b.panels.with(a.session, b.cfg.Now(), apply))
}
