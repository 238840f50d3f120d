package rpcconn

import (
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/protocol"
)

// phase is where a connection is in its life; it only moves forward.
type phase uint8

const (
	// phaseOpen: messages are queued and written, calls registered.
	phaseOpen phase = iota
	// phaseClosing: a close is under way (ours, or the writer failed):
	// nothing more is queued or registered; the writer writes what was
	// queued before, then stops.
	phaseClosing
	// phaseClosed: the reader ended; every pending call was retired.
	phaseClosed
)

// state is everything about a connection that changes as it closes, and the
// outgoing queue whose last message must not race with the close. mu guards
// it; advance is the one place the phase moves.
type state struct {
	mu    sync.Mutex
	phase phase
	// cause is why the connection left phaseOpen: the close this side sent
	// (*closeSent), a write error, or the read error that ended it.
	cause error
	// sentClose is true when closeWith started a close handshake.
	sentClose bool
	// readerDone is set when the reader returned; no keepalive starts after.
	readerDone bool
	// pending are the calls waiting for their answer, by id; closed and
	// dropped when the phase becomes phaseClosed.
	pending map[string]chan *protocol.Message
	// queue holds the messages waiting for the writer.
	queue [][]byte
	// writing is true while a writer goroutine runs: send starts one when
	// it queues the first message, and it exits once the queue is empty.
	writing bool
	// drained is set once Conn.drained is closed.
	drained bool
	// queued counts the bytes in queue and being written (the writer
	// subtracts without the lock once a message is written).
	queued atomic.Int64
}

// advance moves the phase forward to to, recording cause when it is the
// first one; it reports whether the phase moved. Reaching phaseClosed
// retires every pending call: its waiter sees the channel closed and
// returns a *ClosedError with the cause.
func (c *Conn) advance(to phase, cause error) bool {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return c.advanceLocked(to, cause)
}

func (c *Conn) advanceLocked(to phase, cause error) bool {
	st := &c.st
	if to <= st.phase {
		return false
	}
	from := st.phase
	st.phase = to
	c.closing.Store(true)
	if st.cause == nil {
		st.cause = cause
	}
	if _, ok := cause.(*closeSent); ok && from == phaseOpen {
		st.sentClose = true
	}
	if to == phaseClosed {
		for id, ch := range st.pending {
			close(ch)
			delete(st.pending, id)
		}
	}
	if !st.writing { // else the writer ends the drain when it exits
		c.drainedLocked()
	}
	return true
}

// drainedLocked closes Conn.drained: the connection is past phaseOpen and
// no writer runs, so nothing more will be written.
func (c *Conn) drainedLocked() {
	if !c.st.drained {
		c.st.drained = true
		close(c.drained)
	}
}

// end records that the reader ended with err (Run).
func (c *Conn) end(err error) {
	if err == nil {
		err = ErrClosed
	}
	c.advance(phaseClosed, err)
}

// closeStarted tells whether closeWith started a close handshake.
func (st *state) closeStarted() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sentClose
}

// sentClose returns the close this side sent, if it did.
func (c *Conn) sentClose() *closeSent {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	cs, _ := c.st.cause.(*closeSent)
	return cs
}

// closedErr is what a call retired by the close returns.
func (c *Conn) closedErr() error {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return &ClosedError{Err: c.st.cause}
}

// register adds a pending call; false once the connection is closing.
func (c *Conn) register(id string, ch chan *protocol.Message) bool {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	if c.st.phase != phaseOpen {
		return false
	}
	c.st.pending[id] = ch
	return true
}

// forget removes a pending call that ends without its answer.
func (c *Conn) forget(id string) {
	c.st.mu.Lock()
	delete(c.st.pending, id)
	c.st.mu.Unlock()
}

// take removes and returns the pending call id answers, if any.
func (c *Conn) take(id string) (chan *protocol.Message, bool) {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	ch, ok := c.st.pending[id]
	delete(c.st.pending, id)
	return ch, ok
}

// send queues one message for the writer without blocking, and starts the
// writer when none runs.
func (c *Conn) send(b []byte) bool {
	queued, start := c.enqueue(b)
	if start {
		go c.writeLoop()
	}
	return queued
}

// answer queues a handler's answer from the handler's goroutine and, when
// no writer runs, makes that goroutine the writer once the handler is
// counted done: no goroutine is started or woken to write it.
func (c *Conn) answer(b []byte) {
	_, start := c.enqueue(b)
	c.handlers.done()
	if start {
		c.writeLoop()
	}
}

// enqueue queues one message without blocking and reports whether the
// caller must run the writer (none runs). It is refused
// (false) once the connection is closing: such a message would never be
// written. A peer whose unwritten messages pass MaxSendBytes is not reading:
// it is closed with 1008.
func (c *Conn) enqueue(b []byte) (queued, start bool) {
	st := &c.st
	st.mu.Lock()
	if st.phase != phaseOpen {
		st.mu.Unlock()
		return false, false
	}
	n := int64(len(b))
	if q := st.queued.Load() + c.backlog(); q > 0 && q+n > c.opts.MaxSendBytes {
		cause := &closeSent{code: websocket.StatusPolicyViolation, reason: budgetReason(c.opts.MaxSendBytes)}
		c.advanceLocked(phaseClosing, cause)
		st.mu.Unlock()
		c.startClose(cause)
		return false, false
	}
	st.queued.Add(n)
	st.queue = append(st.queue, b)
	start = !st.writing
	if start {
		// Under mu: Run waits for the writer only once the phase is
		// closed, after which no writer starts.
		st.writing = true
		c.writerWG.Add(1)
	}
	st.mu.Unlock()
	return true, start
}

// backlog is what the Wire accepted but could not write yet (try mode): it
// counts against MaxSendBytes like the queue.
func (c *Conn) backlog() int64 {
	if !c.try {
		return 0
	}
	return c.opts.Wire.backlog()
}

// kick starts the writer when a write outside the writer (a ping, a pong,
// a close frame in reply) left a backlog in the Wire and none runs. No
// writer starts once the phase is closed (Run waits for the last one).
func (c *Conn) kick() {
	st := &c.st
	st.mu.Lock()
	start := !st.writing && st.phase != phaseClosed
	if start {
		st.writing = true
		c.writerWG.Add(1)
	}
	st.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}
