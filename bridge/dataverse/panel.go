package dataverse

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cifbridge/cifbridge/bridge/panel"
	"github.com/cifbridge/cifbridge/protocol"
)

// panelIdle is how long an untouched session's panel state is kept; states
// are dropped lazily once there are more than panelSweepAt of them
// (Dataverse has nothing to store the panel state in).
const (
	panelIdle    = 12 * time.Hour
	panelSweepAt = 1024
)

func (b *Backend) panel(_ context.Context, a attempt, params json.RawMessage) (json.RawMessage, error) {
	apply, err := panel.Parse(a.messageType, params)
	if err != nil {
		if pe := protocol.AsError(err); pe.Code == protocol.CodeMethodNotFound {
			return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %s", a.method)
		}
		return nil, err
	}
	return json.Marshal(b.panels.With(a.session, b.cfg.Now(), apply))
}
