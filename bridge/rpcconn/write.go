package rpcconn

import (
	"context"
	"errors"

	"github.com/coder/websocket"
)

// writeLoop is the connection's one writer, started by send when a message
// is queued and none runs. It takes the whole queue each round and writes
// it, until it finds the queue empty: then it exits, so an idle connection
// has no writer. Once the phase is past phaseOpen send refuses, so the
// writer that finds the queue empty then ends the drain (Conn.drained).
func (c *Conn) writeLoop() {
	for {
		batch, ok := c.takeQueue()
		if !ok || !c.writeTaken(batch) {
			return
		}
	}
}

// writeOnReader writes, on the reader, the answer it just queued when no
// writer ran (the reader is then the writer): one round only, so the reader
// reads again at once; whatever other goroutines queued meanwhile goes to a
// writer goroutine. The round is bounded by WriteTimeout, and the reader
// holds no lock the close, keepalive or shutdown need while it writes.
func (c *Conn) writeOnReader() {
	batch, ok := c.takeQueue()
	if !ok || !c.writeTaken(batch) {
		return
	}
	if batch, ok = c.takeQueue(); ok {
		go func() {
			if c.writeTaken(batch) {
				c.writeLoop()
			}
		}()
	}
}

// takeQueue takes the queue for the writer. When it is empty the caller
// stops being the writer (ok false): writing is cleared, the drain ended
// when the connection is closing, and writerWG released.
func (c *Conn) takeQueue() (batch [][]byte, ok bool) {
	st := &c.st
	st.mu.Lock()
	batch = st.queue
	if len(batch) == 0 {
		st.writing = false
		if st.phase != phaseOpen {
			c.drainedLocked()
		}
		st.mu.Unlock()
		c.writerWG.Done()
		return nil, false
	}
	st.queue = c.spare
	st.mu.Unlock()
	return batch, true
}

// writeTaken writes a batch takeQueue returned and reports whether the
// caller is still the writer: on a write error it is not (the connection
// is closing, the drain ended, writerWG released).
func (c *Conn) writeTaken(batch [][]byte) bool {
	err := c.writeBatch(batch)
	c.spare = batch[:0]
	if err == nil {
		return true
	}
	// The socket is broken: refuse what comes next, end the rest.
	st := &c.st
	st.mu.Lock()
	c.advanceLocked(phaseClosing, err)
	st.writing = false
	c.drainedLocked()
	st.mu.Unlock()
	c.cancel(err)
	c.writerWG.Done()
	return false
}

// writeBatch writes the messages taken from the queue, in one write to the
// socket when there is a Wire (several messages, and control frames sent
// meanwhile, gathered while it is corked).
func (c *Conn) writeBatch(batch [][]byte) error {
	w := c.opts.Wire
	if w != nil {
		w.cork()
	}
	var err error
	for i, b := range batch {
		if err == nil {
			err = c.write(b)
		}
		c.st.queued.Add(-int64(len(b)))
		recycle(b)
		batch[i] = nil
	}
	if w != nil {
		if ferr := c.timed(w.uncork); err == nil {
			err = ferr
		}
	}
	return err
}

// timed runs one write to the socket: writeTimer closes the socket under a
// write that outlives WriteTimeout.
func (c *Conn) timed(write func() error) error {
	c.writeTimer.Reset(c.opts.WriteTimeout)
	err := write()
	if !c.writeTimer.Stop() {
		// The timer closed the socket: that, not the closed socket's
		// error, is why the write failed.
		err = errWriteTimeout
	}
	return err
}

// errWriteTimeout is the cause when a write outlives Options.WriteTimeout.
var errWriteTimeout = errors.New("write timed out: the peer does not take data")

func (c *Conn) write(b []byte) error {
	// Record before writing, so a capture never lacks a frame the peer saw.
	if c.opts.OnFrame != nil {
		c.opts.OnFrame("out", b)
	}
	return c.timed(func() error { return c.ws.Write(context.Background(), websocket.MessageText, b) })
}
