package workspace

import (
	"encoding/json"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// Session indicators, conversations, analytics and the console-app calls.

func (w *Workspace) notifyKpiBreach(p *protocol.NotifyKpiBreachParams) (any, error) {
	s, err := w.providerSession("notifyKpiBreach", p.SessionID)
	if err != nil {
		return nil, err
	}
	if p.ShouldReset {
		s.kpiBreach = nil
	} else {
		d := p.Details
		s.kpiBreach = &d
	}
	return nil, nil
}

func (w *Workspace) notifyNewActivity(p *protocol.NotifyNewActivityParams) (any, error) {
	if p.Count == nil || *p.Count < 0 {
		return nil, protocol.InvalidParams("\"count\" must be a number of new activities, 0 or more")
	}
	s, err := w.providerSession("notifyNewActivity", p.SessionID)
	if err != nil {
		return nil, err
	}
	s.newActivity = *p.Count
	return nil, nil
}

func (w *Workspace) updateConversation(p *protocol.UpdateConversationParams) (any, error) {
	if strings.TrimSpace(p.ID) == "" {
		return nil, protocol.InvalidParams("\"id\" is blank: pass the conversation id (getSession's context has it)")
	}
	var data map[string]json.RawMessage
	if err := protocol.ObjectInput("data", p.Data, &data); err != nil {
		return nil, err
	}
	c := w.conversations[p.ID]
	if c == nil {
		if len(w.conversations) >= maxConversations {
			return nil, protocol.Errorf(protocol.CodeOverloaded, "this session already updated %d conversations; the workspace keeps no more", maxConversations)
		}
		c = map[string]json.RawMessage{"msdyn_ocliveworkitemid": mustJSON(p.ID)}
		w.conversations[p.ID] = c
	}
	for k, v := range data {
		if _, ok := c[k]; !ok && len(c) >= maxConversationFields {
			return nil, protocol.InvalidParams("conversation %s already has %d fields, the most the workspace keeps", p.ID, maxConversationFields)
		}
		c[k] = v
	}
	return c, nil
}

// AnalyticsResult is what initLogAnalytics and logAnalyticsEvent resolve
// with (as a JSON string in the JS client).
type AnalyticsResult struct {
	Logged         bool   `json:"logged"`
	ConversationID string `json:"conversationId"`
	EventName      string `json:"eventName,omitempty"`
}

func (w *Workspace) initLogAnalytics(p *protocol.InitLogAnalyticsParams) (any, error) {
	var data struct {
		Conversation struct {
			ConversationID string `json:"conversationId"`
			Session        struct {
				ProviderSessionID string `json:"providerSessionId"`
			} `json:"session"`
		} `json:"conversation"`
	}
	if err := protocol.ObjectInput("data", p.Data, &data); err != nil {
		return nil, err
	}
	if data.Conversation.ConversationID == "" || data.Conversation.Session.ProviderSessionID == "" {
		return nil, protocol.InvalidParams("\"data\" must hold conversation.conversationId and conversation.session.providerSessionId")
	}
	w.analytics++
	return AnalyticsResult{Logged: true, ConversationID: data.Conversation.ConversationID}, nil
}

func (w *Workspace) logAnalyticsEvent(p *protocol.LogAnalyticsEventParams) (any, error) {
	if strings.TrimSpace(p.EventName) == "" {
		return nil, protocol.InvalidParams("\"eventName\" is blank: name the custom event")
	}
	var data struct {
		ConversationID    string `json:"conversationId"`
		ProviderSessionID string `json:"providerSessionId"`
	}
	if err := protocol.ObjectInput("data", p.Data, &data); err != nil {
		return nil, err
	}
	if data.ConversationID == "" || data.ProviderSessionID == "" {
		return nil, protocol.InvalidParams("\"data\" must hold conversationId and providerSessionId")
	}
	w.analytics++
	return AnalyticsResult{Logged: true, ConversationID: data.ConversationID, EventName: p.EventName}, nil
}

// isConsoleApp: the workspace is a multisession console app.
func (w *Workspace) isConsoleApp() any { return true }

// openKBSearchControl: the knowledge-base search opens (nothing to show here).
func (w *Workspace) openKBSearchControl(*protocol.OpenKBSearchControlParams) (any, error) {
	return true, nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
