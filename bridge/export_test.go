package bridge

import "time"

// SetStreamWriteTimeout shortens the stream's write deadline for one test
// and returns the function that restores the default.
func SetStreamWriteTimeout(d time.Duration) (restore func()) {
	streamWriteTimeoutTest.Store(int64(d))
	return func() { streamWriteTimeoutTest.Store(0) }
}

// Connections counts the WebSockets the server still tracks.
func (s *Server) Connections() int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	return len(s.conns)
}

// SessionCount counts the live sessions, including those kept for resume.
func (s *Server) SessionCount() int { return s.sessions.count() }
