package panel_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/panel"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestParse: set calls change the state and answer null, get calls answer
// the value; bad values are -32602 naming the rule, other types -32601.
func TestParse(t *testing.T) {
	var tab panel.Table
	now := time.Unix(0, 0)
	call := func(messageType, params string) (string, int64) {
		apply, err := panel.Parse(messageType, json.RawMessage(params))
		if err != nil {
			return "", protocol.AsError(err).Code
		}
		b, _ := json.Marshal(tab.With("s", now, apply))
		return string(b), 0
	}
	tests := []struct {
		messageType, params, want string
		code                      int64
	}{
		{"getclicktoact", "", "true", 0},
		{"getmode", "", "1", 0},
		{"getwidth", "", "320", 0},
		{"setclicktoact", `{"value":false}`, "null", 0},
		{"getclicktoact", "", "false", 0},
		{"setmode", `{"value":2}`, "null", 0},
		{"getmode", "", "2", 0},
		{"setwidth", `{"value":480.5}`, "null", 0},
		{"getwidth", "", "480.5", 0},
		{"setclicktoact", `{"value":"yes"}`, "", protocol.CodeInvalidParams},
		{"setmode", `{"value":3}`, "", protocol.CodeInvalidParams},
		{"setwidth", `{"value":-1}`, "", protocol.CodeInvalidParams},
		{"setwidth", `{}`, "", protocol.CodeInvalidParams},
		{"getheight", "", "", protocol.CodeMethodNotFound},
	}
	for _, tt := range tests {
		if got, code := call(tt.messageType, tt.params); got != tt.want || code != tt.code {
			t.Errorf("%s %s = %q (code %d), want %q (code %d)", tt.messageType, tt.params, got, code, tt.want, tt.code)
		}
	}
}

// TestTableSweep: with Idle set, an idle session's state is dropped once
// the table is full and a new session comes; a recent one is kept. Forget
// and Reset drop states at once.
func TestTableSweep(t *testing.T) {
	tab := panel.Table{Idle: time.Hour, SweepAt: 2}
	setMode, _ := panel.Parse("setmode", json.RawMessage(`{"value":0}`))
	getMode, _ := panel.Parse("getmode", nil)
	t0 := time.Unix(0, 0)
	tab.With("old", t0, setMode)
	tab.With("recent", t0.Add(90*time.Minute), setMode)
	tab.With("new", t0.Add(2*time.Hour), getMode) // sweeps "old"
	if got := tab.With("old", t0.Add(2*time.Hour), getMode); got != panel.DefaultMode {
		t.Errorf("idle session kept its mode %v", got)
	}
	if got := tab.With("recent", t0.Add(2*time.Hour), getMode); got != 0 {
		t.Errorf("recent session lost its mode: %v", got)
	}
	tab.Forget("recent")
	if got := tab.With("recent", t0.Add(2*time.Hour), getMode); got != panel.DefaultMode {
		t.Errorf("forgotten session kept its mode %v", got)
	}
	tab.With("new", t0, setMode)
	tab.Reset()
	if got := tab.With("new", t0, getMode); got != panel.DefaultMode {
		t.Errorf("reset kept a mode %v", got)
	}
}
