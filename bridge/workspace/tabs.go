package workspace

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/cifbridge/cifbridge/protocol"
)

// Tabs live in the focused session (the home session when no provider
// session is focused), as the reference says of every tab API.

func (w *Workspace) focusedTab(api, id string) (*tab, error) {
	if id == "" {
		return nil, protocol.InvalidParams("\"tabId\" is blank: provide the tab id createTab returned")
	}
	for _, t := range w.focused.tabs {
		if t.id == id {
			return t, nil
		}
	}
	return nil, cifErr(api, "The tab "+strconv.Quote(id)+" does not belong to the focused session.")
}

func (w *Workspace) createTab(p *protocol.CreateTabParams) (any, error) {
	var in protocol.TabInput
	if err := protocol.ObjectInput("input", p.Input, &in); err != nil {
		return nil, err
	}
	if in.TemplateName == "" {
		return nil, protocol.InvalidParams("\"input.templateName\" is blank: name an application tab template (e.g. \"msdyn_entityrecord\")")
	}
	tt, ok := w.t.tab(in.TemplateName)
	if !ok {
		return nil, cifErr("createTab", "The application tab template "+strconv.Quote(in.TemplateName)+" was not found.")
	}
	s := w.focused
	if len(s.tabs) >= maxTabsPerSession {
		return nil, cifErr("createTab", "The session already has the most tabs the workspace allows ("+strconv.Itoa(maxTabsPerSession)+"); close one first.")
	}
	t := &tab{id: w.nextID("tab-id-"), template: tt.Name, title: fill(tt.Title, in.AppContext, s.params), tags: tt.Tags, appContext: in.AppContext}
	s.addTab(t)
	if in.IsFocused != nil && *in.IsFocused {
		s.focusedTab = t
	}
	return t.id, nil
}

func (w *Workspace) focusTab(p *protocol.TabIDParams) (any, error) {
	t, err := w.focusedTab("focusTab", p.TabID)
	if err != nil {
		return nil, err
	}
	w.focused.focusedTab = t
	return nil, nil
}

func (w *Workspace) getFocusedTab() any {
	if t := w.focused.focusedTab; t != nil {
		return t.id
	}
	return nil
}

func (w *Workspace) getTabs(p *protocol.GetTabsParams) (any, error) {
	ids := []string{}
	for _, t := range w.focused.tabs {
		all := p.TemplateName == "" && p.TemplateTag == ""
		if all || (p.TemplateName != "" && t.template == p.TemplateName) || (p.TemplateTag != "" && slices.Contains(t.tags, p.TemplateTag)) {
			ids = append(ids, t.id)
		}
	}
	return ids, nil
}

func (w *Workspace) refreshTab(p *protocol.TabIDParams) (any, error) {
	t, err := w.focusedTab("refreshTab", p.TabID)
	if err != nil {
		return nil, err
	}
	t.refreshes++
	return nil, nil
}

func (w *Workspace) setTabTitle(p *protocol.SetTabTitleParams) (any, error) {
	var in struct {
		Title string `json:"title"`
	}
	if err := protocol.ObjectInput("input", p.Input, &in); err != nil {
		return nil, err
	}
	if in.Title == "" {
		return nil, protocol.InvalidParams("\"input.title\" is blank: pass {\"title\":\"…\"}")
	}
	t, err := w.focusedTab("setTabTitle", p.TabID)
	if err != nil {
		return nil, err
	}
	t.title = in.Title
	return in.Title, nil
}

func (w *Workspace) closeTab(p *protocol.TabIDParams) (any, error) {
	t, err := w.focusedTab("closeTab", p.TabID)
	if err != nil {
		return nil, err
	}
	if t.anchor {
		return nil, cifErr("closeTab", "The anchor tab of a session cannot be closed.")
	}
	s := w.focused
	i := slices.Index(s.tabs, t)
	s.tabs = slices.Delete(s.tabs, i, i+1)
	if s.focusedTab == t {
		s.focusedTab = s.tabs[max(i-1, 0)]
	}
	return nil, nil
}

// appContextOf is a tab's appContext for views (never nil).
func appContextOf(t *tab) map[string]json.RawMessage { return nonNilMap(t.appContext) }
