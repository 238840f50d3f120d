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
	defer c.writerWG.Done()
	st := &c.st
	for {
		st.mu.Lock()
		batch := st.queue
		if len(batch) == 0 && c.backlog() == 0 {
			st.writing = false
			if st.phase != phaseOpen {
				c.drainedLocked()
			}
			st.mu.Unlock()
			return
		}
		st.queue = c.spare
		st.mu.Unlock()
		err := c.writeBatch(batch)
		c.spare = batch[:0]
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

// writeFailed ends the writer role on a write error: the socket is broken,
// so what comes next is refused and the rest of the connection ended.
func (c *Conn) writeFailed(err error) {
	st := &c.st
	st.mu.Lock()
	c.advanceLocked(phaseClosing, err)
	st.writing = false
	c.drainedLocked()
	st.mu.Unlock()
	c.cancel(err)
}

// writeOnReader writes, on the reader, what it queued when no writer ran
// (queueReply made the reader the writer). It never blocks: the Wire takes
// the batch in its reader's cork and writes what the socket takes at once,
// keeping the rest in its backlog. When a backlog remains, or other
// goroutines queued messages meanwhile, the writer role passes to a writer
// goroutine, which sends them under WriteTimeout as usual; otherwise the
// reader gives the role up.
func (c *Conn) writeOnReader() {
	st := &c.st
	w := c.opts.Wire
	st.mu.Lock()
	batch := st.queue
	st.queue = c.spare
	st.mu.Unlock()
	var err error
	if c.frames {
		// Counted out of the queue before the Wire counts them in its
		// backlog: never twice against the budget.
		var n int64
		for _, b := range batch {
			n += int64(len(b))
		}
		st.queued.Add(-n)
		err = w.tryText(batch)
		for i, b := range batch {
			recycle(b)
			batch[i] = nil
		}
	} else {
		w.cork(true)
		for i, b := range batch {
			// Counted out of the queue before the Wire counts it in its
			// backlog: never twice against the budget.
			st.queued.Add(-int64(len(b)))
			if err == nil {
				err = c.ws.Write(context.Background(), websocket.MessageText, b)
			}
			recycle(b)
			batch[i] = nil
		}
		if uerr := w.uncorkTry(); err == nil {
			err = uerr
		}
	}
	c.spare = batch[:0]
	if err != nil {
		c.writeFailed(err)
		c.writerWG.Done()
		return
	}
	st.mu.Lock()
	if len(st.queue) == 0 && w.backlog() == 0 {
		st.writing = false
		if st.phase != phaseOpen {
			c.drainedLocked()
		}
		st.mu.Unlock()
		c.writerWG.Done()
		return
	}
	st.mu.Unlock()
	go c.writeLoop() // the writer role (and writerWG) passes to it
}

// writeBatch writes the messages taken from the queue, in one write to the
// socket when there is a Wire (several messages, and control frames sent
// meanwhile, gathered while it is corked).
func (c *Conn) writeBatch(batch [][]byte) error {
	w := c.opts.Wire
	if w != nil {
		w.cork(false)
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
