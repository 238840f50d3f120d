package emulator

import (
	"encoding/json"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/panel"
	"github.com/cifbridge/cifbridge/protocol"
)

// Defaults of the per-session panel state, as CIF starts a provider.
const (
	DefaultClickToAct = panel.DefaultClickToAct
	DefaultMode       = panel.DefaultMode
	DefaultWidth      = panel.DefaultWidth
)

// ForgetSession drops the panel state of a closed session.
func (e *Emulator) ForgetSession(session string) { e.sessions.Forget(session) }

func (e *Emulator) prepPanel(a *correlation.Attempt) (prepared, error) {
	params, err := a.RawParams()
	if err != nil {
		return prepared{}, err
	}
	apply, err := panel.Parse(protocol.MessageType(a.Method), params)
	if err != nil {
		return prepared{}, err
	}
	return prepared{run: func() (json.RawMessage, error) {
		return jsonResult(e.sessions.With(a.Session, e.now(), apply))
	}}, nil
}
