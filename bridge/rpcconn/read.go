package rpcconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/internal/recovered"
	"github.com/cifbridge/cifbridge/protocol"
)

// readBufs holds the buffers messages are read into, shared by every
// connection: a busy connection reuses one, an idle one holds none (a
// widget session mostly waits for a human).
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxReadBuffer bounds the read buffers kept for reuse: a larger message is
// read into a buffer that is then let go, so one big message does not pin
// its size.
const maxReadBuffer = 16 << 10

// errStalled is the cause when a message outlives Options.ReadTimeout.
var errStalled = errors.New("a message stalled: it was not complete within the read timeout")

func (c *Conn) readLoop() error {
	for {
		typ, data, ascii, err := c.read()
		if err != nil {
			if c.readStalled.Load() {
				return errStalled
			}
			if errors.Is(err, ErrMessageTooBig) { // GuardFrames refused a frame header
				c.closeWith(websocket.StatusMessageTooBig, "message too big: a frame header announces more than the message size limit")
				return err
			}
			if cs := c.sentClose(); cs != nil { // we closed: report why
				return cs
			}
			if websocket.CloseStatus(err) != -1 {
				// The peer's close frame: its reason, not the failed
				// write of an answer behind it (coder/websocket closed
				// the socket once it replied), is why the connection ended.
				return err
			}
			if c.ctx.Err() != nil { // the watch closed the socket: report why
				return context.Cause(c.ctx)
			}
			return err
		}
		received := time.Now()
		c.lastSeen.Store(received.UnixNano())
		if typ != websocket.MessageText {
			c.closeWith(websocket.StatusUnsupportedData, "binary frames are not supported: send each JSON-RPC message as one text frame")
			return errors.New("peer sent a binary frame")
		}
		if !ascii && !utf8.Valid(data) {
			// RFC 6455 §8.1: a text frame must be UTF-8; the endpoint fails
			// the connection with 1007.
			c.closeWith(websocket.StatusInvalidFramePayloadData, "invalid UTF-8 in a text frame: JSON text must be UTF-8")
			return errors.New("peer sent invalid UTF-8 in a text frame")
		}
		if c.opts.OnFrame != nil {
			c.opts.OnFrame("in", data)
		}
		if c.closing.Load() {
			continue // read on until the peer's close frame, serve nothing
		}
		c.dispatch(data, received)
	}
}

// read returns the next data message, in a buffer of its exact size of
// its own: the decoded messages point into it, and nothing changes it, for
// as long as their handlers (and late records) hold them. ascii reports a
// message known to be ASCII (the Wire's unmask saw every byte), which
// needs no UTF-8 check. With a Wire the
// common message (one text frame) is taken straight from the Wire's read
// buffer (Wire.nextText); anything else is read through the WebSocket,
// which also handles the control frames. Once a message has begun, it must
// be complete within ReadTimeout: with a Wire, the Wire arms the timer only
// while a read in the middle of a message waits for the socket, not for
// every message.
func (c *Conn) read() (typ websocket.MessageType, data []byte, ascii bool, err error) {
	w := c.opts.Wire
	if w != nil {
		data, ascii, ok, err := w.nextText()
		if ok || err != nil {
			return websocket.MessageText, data, ascii, err
		}
	}
	typ, r, err := c.ws.Reader(context.Background()) // ends when ctx does: see stopReadWatch
	if err != nil {
		return 0, nil, false, err
	}
	if w == nil { // else the Wire times only reads that wait (setStall)
		c.readTimer.Reset(c.opts.ReadTimeout)
	}
	data, err = readPooled(r)
	if w == nil {
		c.readTimer.Stop()
	}
	return typ, data, false, err
}

// readPooled reads a message of unknown size into a pooled buffer and
// returns a copy of it at its exact size.
func readPooled(r io.Reader) ([]byte, error) {
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(r)
	data := bytes.Clone(buf.Bytes())
	if buf.Cap() <= maxReadBuffer {
		readBufs.Put(buf)
	}
	return data, err
}

// stalled runs when a message outlived ReadTimeout: the reader is blocked
// in the middle of it, so the socket is closed under it.
func (c *Conn) stalled() {
	c.readStalled.Store(true)
	c.log.Debug().Dur("readTimeout", c.opts.ReadTimeout).Msg("closing a peer stalled in the middle of a message")
	// The close frame goes out; the handshake then waits (at most 5 s) for
	// the peer's, which cannot come past the stalled frame, and ends the
	// socket, which ends the reader.
	c.closeWith(websocket.StatusPolicyViolation, fmt.Sprintf("message not complete within %v", c.opts.ReadTimeout))
}

// seen records that the peer is alive now.
func (c *Conn) seen() { c.lastSeen.Store(time.Now().UnixNano()) }

// keepalive runs every PingInterval: a peer quiet for PingInterval is
// pinged; one that sent nothing, not even a pong, for IdleTimeout is closed.
func (c *Conn) keepalive() {
	c.st.mu.Lock()
	if c.st.readerDone {
		c.st.mu.Unlock()
		return
	}
	c.keepaliveWG.Add(1)
	c.st.mu.Unlock()
	defer c.keepaliveWG.Done()
	if c.ctx.Err() != nil {
		return
	}
	idle := time.Since(time.Unix(0, c.lastSeen.Load()))
	if idle < c.opts.PingInterval {
		c.pingTimer.Reset(c.opts.PingInterval - idle)
		return
	}
	left := c.opts.IdleTimeout - idle
	if left > 0 {
		ctx, cancel := context.WithTimeout(c.ctx, left)
		err := c.ws.Ping(ctx)
		cancel()
		if err == nil {
			c.seen()
			c.pingTimer.Reset(c.opts.PingInterval)
			return
		}
		if c.ctx.Err() != nil {
			return
		}
	}
	c.closeWith(websocket.StatusPolicyViolation, fmt.Sprintf("idle timeout: nothing received for %v, not even a pong", c.opts.IdleTimeout))
}

func (c *Conn) dispatch(data []byte, received time.Time) {
	var d protocol.Decoded
	protocol.DecodeInto(&d, data)
	if d.ParseError != nil {
		c.reply(protocol.AppendResponse(nil, nil, nil, d.ParseError))
		return
	}
	for i := range d.Messages {
		d.Messages[i].Received = received
	}
	if !d.Batch {
		m := &d.Messages[0]
		switch m.Kind {
		case protocol.KindInvalid:
			c.reply(protocol.AppendResponse(nil, m.ID, nil, m.Error))
		case protocol.KindResponse:
			c.deliver(m)
		case protocol.KindNotification:
			if release, rejected := c.admit(m); rejected == nil {
				c.handlers.add()
				go func() {
					defer c.handlers.done()
					c.notify(m, release)
				}()
			}
		case protocol.KindRequest:
			release, rejected := c.admit(m)
			if rejected != nil {
				c.reply(protocol.AppendResponse(nil, m.ID, nil, rejected))
				return
			}
			c.handlers.add()
			if c.opts.Inline != nil && c.opts.Inline(m) {
				// The reader serves it and, when it may, writes the answer
				// itself without blocking (writeOnReader); otherwise a
				// writer goroutine is started when none runs.
				mine := c.queueReply(c.serve(m, release))
				c.handlers.done()
				if mine {
					c.writeOnReader()
				}
				return
			}
			go func() { c.answer(c.serve(m, release)) }() // serve runs on the new goroutine
		}
		return
	}
	c.dispatchBatch(d.Messages)
}

// dispatchBatch answers every call of a batch, in one array, once all are
// done. Every item is admitted (or refused) here, in order, before any of
// them runs: the same batch on an idle session always gets the same
// answers.
func (c *Conn) dispatchBatch(msgs []protocol.Message) {
	out := make([][]byte, len(msgs))
	run := make([]bool, len(msgs))
	releases := make([]func(), len(msgs))
	runs := false
	for i := range msgs {
		m := &msgs[i]
		switch m.Kind {
		case protocol.KindInvalid:
			out[i] = protocol.AppendResponse(nil, m.ID, nil, m.Error)
		case protocol.KindResponse:
			c.deliver(m)
		case protocol.KindNotification, protocol.KindRequest:
			release, rejected := c.admit(m)
			releases[i] = release
			switch {
			case rejected == nil:
				run[i], runs = true, true
			case m.Kind == protocol.KindRequest:
				out[i] = protocol.AppendResponse(nil, m.ID, nil, rejected)
			}
		}
	}
	finish := func(send func([]byte)) {
		buf := []byte{'['}
		for _, b := range out {
			if b == nil {
				continue
			}
			if len(buf) > 1 {
				buf = append(buf, ',')
			}
			buf = append(buf, b...)
		}
		if len(buf) > 1 { // a batch of notifications gets no answer at all
			send(append(buf, ']'))
		}
	}
	if !runs {
		finish(c.reply)
		return
	}
	c.handlers.add()
	go func() {
		defer c.handlers.done()
		var wg sync.WaitGroup
		for i := range msgs {
			if !run[i] {
				continue
			}
			m := &msgs[i]
			if m.Kind == protocol.KindNotification {
				wg.Go(func() { c.notify(m, releases[i]) })
			} else {
				wg.Go(func() { out[i] = c.serve(m, releases[i]) })
			}
		}
		wg.Wait()
		finish(func(b []byte) { c.send(b) })
	}()
}

// reply queues a message the reader made (an answer, a refusal) and writes
// it on the reader when it may (queueReply).
func (c *Conn) reply(b []byte) {
	if c.queueReply(b) {
		c.writeOnReader()
	}
}

// queueReply queues a message the reader made and reports whether the
// reader is now the writer and must call writeOnReader: only in try mode
// (a Wire whose writes need not block, no OnFrame hook, which may hold a
// write as long as it likes) and when no writer runs. Otherwise a writer
// goroutine is started when none runs, as send does.
func (c *Conn) queueReply(b []byte) bool {
	if !c.try {
		c.send(b)
		return false
	}
	_, mine := c.enqueue(b)
	return mine
}

// admit asks Options.Admit whether m may run.
func (c *Conn) admit(m *protocol.Message) (func(), *protocol.Error) {
	if c.opts.Admit == nil {
		return nil, nil
	}
	return c.opts.Admit(m)
}

// notify runs one admitted notification. A panic in the handler is logged
// with its stack and ends only this notification.
func (c *Conn) notify(m *protocol.Message, release func()) {
	if release != nil {
		defer release()
	}
	defer func() {
		if err := recovered.Error(recover()); err != nil {
			c.log.Error().Err(err).Str("method", logcap.Str(m.Method)).Str("stack", recovered.Stack(err)).Msg("a notification's handler panicked: this is a bug in cifbridge, please report it with this line")
		}
	}()
	c.h.HandleNotification(c.reqCtx, c, m)
}

// serve runs one admitted request and returns its encoded response. A
// panic in the handler answers this request with an internal error (and
// logs the stack); the connection and every other call go on.
func (c *Conn) serve(m *protocol.Message, release func()) []byte {
	if release != nil {
		defer release()
	}
	res, err := c.handle(m)
	if err != nil {
		rpcErr := protocol.AsError(err)
		if st := recovered.Stack(err); st != "" {
			c.log.Error().Err(err).Str("method", logcap.Str(m.Method)).Str("stack", st).Msg("a request's handler panicked: this is a bug in cifbridge, please report it with this line; the request was answered with an internal error")
		} else if rpcErr.Code == protocol.CodeInternal {
			if errors.Is(err, ErrClosed) && c.reqCtx.Err() != nil {
				// The call ended with its own connection (the peer closed it,
				// its session moved): no bug, and nobody to answer.
				c.log.Debug().Err(err).Str("method", logcap.Str(m.Method)).Msg("request ended with its connection")
			} else {
				c.log.Error().Err(err).Str("method", logcap.Str(m.Method)).Msg("request failed with an internal error")
			}
		}
		return protocol.AppendResponse(answerBuf(), m.ID, nil, rpcErr)
	}
	return protocol.AppendResponse(answerBuf(), m.ID, res, nil)
}

// handle calls the handler, turning a panic into an error (recovered).
func (c *Conn) handle(m *protocol.Message) (res json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, recovered.Error(p)
		}
	}()
	return c.h.HandleCall(c.reqCtx, c, m)
}
