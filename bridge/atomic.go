package bridge

import "sync/atomic"

// atomicSession holds the session a connection currently belongs to.
type atomicSession struct{ p atomic.Pointer[Session] }

func (a *atomicSession) Load() *Session   { return a.p.Load() }
func (a *atomicSession) Store(s *Session) { a.p.Store(s) }

// lonelyCount is an atomic counter on cache lines of its own: every call
// adds to it, from whichever core serves the call, and a field beside it
// that every call only reads (Server.draining) would lose its cached line
// at each add (false sharing).
type lonelyCount struct {
	_ [64]byte
	atomic.Int64
	_ [56]byte
}
