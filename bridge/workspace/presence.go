package workspace

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// setPresenceLocked makes p the current presence and raises onSetPresence
// when it changed.
func (w *Workspace) setPresenceLocked(p protocol.Presence) {
	if w.presence == p {
		return
	}
	w.presence = p
	w.emitLocked("onSetPresence", p)
}

func (w *Workspace) findPresence(match func(protocol.Presence) bool) (protocol.Presence, bool) {
	if i := slices.IndexFunc(w.presenceList, match); i >= 0 {
		return w.presenceList[i], true
	}
	return protocol.Presence{}, false
}

// setPresence matches the text exactly against the presence list, as the
// reference says; false when none has it.
func (w *Workspace) setPresence(p *protocol.SetPresenceParams) (any, error) {
	if p.PresenceText == "" {
		return nil, protocol.InvalidParams("\"presenceText\" is blank: pass the presence text exactly as the presence list has it")
	}
	found, ok := w.findPresence(func(x protocol.Presence) bool { return x.PresenceText == p.PresenceText })
	if !ok {
		return false, nil
	}
	w.setPresenceLocked(found)
	return true, nil
}

func (w *Workspace) getPresence() any {
	return w.presence
}

// setAgentPresence takes a presence object (or its JSON string) and matches
// it by presenceId, else by presenceText; false when none matches.
func (w *Workspace) setAgentPresence(p *protocol.SetAgentPresenceParams) (any, error) {
	var info protocol.Presence
	if err := protocol.ObjectInput("presenceInfo", p.PresenceInfo, &info); err != nil {
		return nil, err
	}
	if info.PresenceID == "" && info.PresenceText == "" {
		return nil, protocol.InvalidParams("\"presenceInfo\" needs \"presenceId\" or \"presenceText\"")
	}
	found, ok := w.findPresence(func(x protocol.Presence) bool {
		return (info.PresenceID != "" && x.PresenceID == info.PresenceID) || (info.PresenceID == "" && x.PresenceText == info.PresenceText)
	})
	if !ok {
		return false, nil
	}
	w.setPresenceLocked(found)
	return true, nil
}

// maxPresences bounds a presence list.
const maxPresences = 100

func (w *Workspace) initializeAgentPresenceList(p *protocol.InitializeAgentPresenceListParams) (any, error) {
	raw := bytes.TrimSpace(p.PresenceList)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			raw = []byte(s)
		}
	}
	var list []protocol.Presence
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return nil, protocol.InvalidParams("\"presenceList\" must be a non-empty array of {\"presenceId\",\"presenceText\",\"presenceColor\",\"basePresenceStatus\"}")
	}
	if len(list) > maxPresences {
		return nil, protocol.InvalidParams("\"presenceList\" has %d entries; at most %d", len(list), maxPresences)
	}
	seen := map[string]bool{}
	for i, x := range list {
		if strings.TrimSpace(x.PresenceID) == "" || strings.TrimSpace(x.PresenceText) == "" {
			return nil, protocol.InvalidParams("\"presenceList\"[%d] needs \"presenceId\" and \"presenceText\"", i)
		}
		if seen[x.PresenceID] {
			return nil, protocol.InvalidParams("\"presenceList\"[%d]: presenceId %s appears twice", i, strconv.Quote(x.PresenceID))
		}
		seen[x.PresenceID] = true
	}
	w.presenceList = list
	if cur, ok := w.findPresence(func(x protocol.Presence) bool { return x.PresenceID == w.presence.PresenceID }); ok {
		w.presence = cur
	} else {
		w.setPresenceLocked(list[0])
	}
	return true, nil
}

// SetPresence is the agent picking a presence from the list by id
// (ErrNotFound when the list has none); raises onSetPresence.
func (w *Workspace) SetPresence(presenceID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.findPresence(func(x protocol.Presence) bool { return x.PresenceID == presenceID })
	if !ok {
		return ErrNotFound
	}
	w.setPresenceLocked(p)
	return nil
}
