package bridge

import "time"

// SetStreamWriteTimeout shortens the stream's write deadline for one test
// and returns the function that restores the default.
func SetStreamWriteTimeout(d time.Duration) (restore func()) {
	streamWriteTimeoutTest.Store(int64(d))
	return func() { streamWriteTimeoutTest.Store(0) }
}
