package rpcconn

import (
	"context"
	"errors"

	"github.com/coder/websocket"
)

// writeLoop is the connection's one writer. It takes the whole queue at
// each wake-up and writes it; once the phase is past phaseOpen (or ctx
// ended) the queue it takes is the last one, since send refuses from then
// on, and it stops after writing it.
func (c *Conn) writeLoop() {
	defer c.writerWG.Done()
	defer close(c.drained)
	st := &c.st
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
		}
		st.mu.Lock()
		if c.ctx.Err() != nil {
			c.advanceLocked(phaseClosing, context.Cause(c.ctx))
		}
		last := st.phase != phaseOpen
		batch := st.queue
		st.queue = c.spare
		st.mu.Unlock()
		var err error
		for i, b := range batch {
			if err == nil {
				err = c.write(b)
			}
			st.queued.Add(-int64(len(b)))
			recycle(b)
			batch[i] = nil
		}
		c.spare = batch[:0]
		if err != nil {
			// The socket is broken: refuse what comes next, end the rest.
			c.advance(phaseClosing, err)
			c.cancel(err)
			return
		}
		if last {
			return
		}
	}
}

// errWriteTimeout is the cause when a write outlives Options.WriteTimeout.
var errWriteTimeout = errors.New("write timed out: the peer does not take data")

func (c *Conn) write(b []byte) error {
	// Record before writing, so a capture never lacks a frame the peer saw.
	if c.opts.OnFrame != nil {
		c.opts.OnFrame("out", b)
	}
	c.writeTimer.Reset(c.opts.WriteTimeout)
	err := c.ws.Write(context.Background(), websocket.MessageText, b)
	if !c.writeTimer.Stop() && err == nil {
		err = errWriteTimeout
	}
	return err
}
