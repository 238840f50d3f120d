package workspace

import (
	"sync"

	"github.com/rs/zerolog"
)

// Registry holds the workspace of every widget session.
type Registry struct {
	t     *Templates
	raise RaiseFunc
	log   zerolog.Logger

	mu sync.Mutex
	m  map[string]*Workspace
}

// NewRegistry returns a registry whose workspaces use templates t (nil:
// DefaultTemplates) and raise events with raise.
func NewRegistry(t *Templates, raise RaiseFunc, log zerolog.Logger) *Registry {
	if t == nil {
		t = DefaultTemplates()
	}
	return &Registry{t: t, raise: raise, log: log, m: map[string]*Workspace{}}
}

// Templates are the registry's templates.
func (r *Registry) Templates() *Templates { return r.t }

// Get returns the workspace of a widget session, creating it.
func (r *Registry) Get(session string) *Workspace {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.m[session]
	if w == nil {
		w = New(session, r.t, r.raise, r.log)
		r.m[session] = w
	}
	return w
}

// Lookup returns the workspace of a session, or nil when it has none yet.
func (r *Registry) Lookup(session string) *Workspace {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[session]
}

// Forget closes and drops the workspace of a session that ended.
func (r *Registry) Forget(session string) {
	r.mu.Lock()
	w := r.m[session]
	delete(r.m, session)
	r.mu.Unlock()
	if w != nil {
		w.Close()
	}
}

// Close closes every workspace (shutdown).
func (r *Registry) Close() {
	r.mu.Lock()
	all := r.m
	r.m = map[string]*Workspace{}
	r.mu.Unlock()
	for _, w := range all {
		w.Close()
	}
}
