package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/workspace"
)

// The CIF 2.0 agent workspace: --workspace-templates (session, tab and
// notification templates, presence list, maxSessions) and
// --notimeout-limit (the safety limit of the calls CIF runs without a
// timeout).
type workspacePlugin struct {
	noSteps
	templates string
	limit     time.Duration
}

func (p *workspacePlugin) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.templates, "workspace-templates", "", "JSON `file` of CIF 2.0 workspace templates laid over the built-in ones: {\"maxSessions\",\"sessionTemplates\",\"tabTemplates\",\"notificationTemplates\",\"presences\"} (see docs/workspace.md)")
	fs.DurationVar(&p.limit, "notimeout-limit", bridge.DefaultNoTimeoutLimit, "safety `limit` for the calls CIF runs without a timeout (openForm, notifyEvent, insertNotes wait for the agent): past it the call ends with -32008; they also end with their session")
}

func (p *workspacePlugin) configure(env *serveEnv) error {
	if p.limit <= 0 {
		return usageError{fmt.Errorf("--notimeout-limit must be positive, got %v", p.limit)}
	}
	env.Config.NoTimeoutLimit = p.limit
	if p.templates == "" {
		return nil
	}
	t, err := workspace.LoadTemplates(filepath.Clean(p.templates))
	if err != nil {
		return usageError{fmt.Errorf("--workspace-templates: %w", err)}
	}
	env.Config.WorkspaceTemplates = t
	env.Log.Info().Str("file", p.templates).Int("sessionTemplates", len(t.Sessions)).Int("tabTemplates", len(t.Tabs)).
		Int("notificationTemplates", len(t.Notifications)).Int("maxSessions", t.MaxSessions).Msg("workspace templates loaded")
	return nil
}
