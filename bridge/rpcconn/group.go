package rpcconn

import "sync"

// group counts running handlers. Unlike sync.WaitGroup, a handler may start
// while Shutdown already waits for the running ones (the reader keeps
// reading until the close handshake ends): WaitGroup forbids an Add from
// zero concurrent with Wait, and the race detector reports it.
type group struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil when nobody waits
}

func (g *group) add() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

func (g *group) done() {
	g.mu.Lock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

// zero returns a channel closed once no handler runs.
func (g *group) zero() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	return g.idle
}

// wait blocks until no handler runs.
func (g *group) wait() { <-g.zero() }
