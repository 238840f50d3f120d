package rpcconn

import "sync/atomic"

// readLock is the Wire's read lock (Wire.rmu). Its waiters wait on a
// channel, not in a sync.Mutex: the WebSocket's close handshake may wait
// for it while the connection's reader holds it waiting for the socket,
// and a goroutine waiting on a channel lets a testing/synctest bubble's
// clock (the handshake's 5 s) run on. Taking it when nobody holds it, as
// the reader does for every message, is one compare-and-swap instead of a
// channel send, and releasing it one swap instead of a receive.
//
// state is 0 when free, 1 when held, 2 when held and a goroutine may wait;
// a release that finds 2 leaves a wake-up in wake's one slot, and the
// woken waiter takes the lock as contended (2), so that its own release
// wakes the next. A wake-up left over only makes a later waiter look
// again.
type readLock struct {
	state atomic.Int32
	wake  chan struct{}
}

func newReadLock() readLock { return readLock{wake: make(chan struct{}, 1)} }

func (l *readLock) lock() {
	if l.state.CompareAndSwap(0, 1) {
		return
	}
	for l.state.Swap(2) != 0 {
		<-l.wake
	}
}

func (l *readLock) unlock() {
	if l.state.Swap(0) == 2 {
		select {
		case l.wake <- struct{}{}:
		default: // a wake-up waits already: it is enough for one waiter
		}
	}
}
