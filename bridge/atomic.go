package bridge

import "sync/atomic"

// atomicSession holds the session a connection currently belongs to.
type atomicSession struct{ p atomic.Pointer[Session] }

func (a *atomicSession) Load() *Session   { return a.p.Load() }
func (a *atomicSession) Store(s *Session) { a.p.Store(s) }
