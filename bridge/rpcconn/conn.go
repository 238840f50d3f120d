// Package rpcconn is the bridge's JSON-RPC 2.0 engine over one WebSocket:
// one reader, one writer, handlers on their own goroutines, and outgoing
// calls matched by id. It is spec-exact where sourcegraph/jsonrpc2 is not
// (parse errors answered with id null, batches, byte-exact ids; see
// docs/jsonrpc-library.md).
//
// Entry points: New, Conn.Run, Conn.Call, Conn.Notify, Conn.Close.
package rpcconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/protocol"
)

// ErrClosed is returned by Call and Notify once the connection is closed.
var ErrClosed = errors.New("connection closed")

// ErrNotSent is returned by Call when the connection was closed before the
// request could be queued: the peer never got it. errors.Is(err, ErrClosed)
// holds for it too.
var ErrNotSent = fmt.Errorf("%w before the call was sent", ErrClosed)

// Handler serves the peer's requests and notifications. Each call runs on
// its own goroutine with a context that ends when the connection closes.
type Handler interface {
	HandleCall(ctx context.Context, c *Conn, m *protocol.Message) (json.RawMessage, error)
	HandleNotification(ctx context.Context, c *Conn, m *protocol.Message)
}

// Options configure a Conn. Zero values mean the documented default.
type Options struct {
	// SendQueue is how many outgoing messages may wait for the writer.
	// A peer that lets it fill up is closed with 1008. Default 256.
	SendQueue int
	// WriteTimeout bounds one WebSocket write. Default 10 s.
	WriteTimeout time.Duration
	// Admit, when set, is asked before a request is dispatched; a false
	// answer is replied to at once with the returned error (e.g. -32003).
	Admit func(m *protocol.Message) (release func(), err *protocol.Error)
	// OnFrame sees every message in ("in") and out ("out"), e.g. for capture.
	OnFrame func(dir string, msg []byte)
	// OnUnmatched sees responses that match no pending call.
	OnUnmatched func(m *protocol.Message)
	// Logger receives this connection's log lines.
	Logger zerolog.Logger
}

// Conn is one JSON-RPC peer connection.
type Conn struct {
	ws   *websocket.Conn
	h    Handler
	opts Options
	log  zerolog.Logger

	ctx    context.Context // connection lifetime
	cancel context.CancelCauseFunc
	// reqCtx is the parent of every handler ctx: a child of ctx that
	// CancelRequests can end first, so handlers can still send their answers.
	reqCtx    context.Context
	reqCancel context.CancelCauseFunc

	sendq chan []byte

	// mu guards pending and closed.
	mu      sync.Mutex
	pending map[string]chan *protocol.Message
	closed  bool
	seq     atomic.Int64

	// closeDone is closed when a close handshake started by closeWith ends.
	closeDone    chan struct{}
	closeStarted atomic.Bool
	// closeReq asks the writer to write what is queued and stop, so the
	// close frame goes out after every answer queued before it; the writer
	// closes drained when it has, and writerDone when it returns.
	closeReq   chan struct{}
	drained    chan struct{}
	writerDone chan struct{}

	handlers sync.WaitGroup
	writerWG sync.WaitGroup
	dropped  atomic.Uint64

	// Reads and writes run without a per-call context: coder/websocket
	// arms a context.AfterFunc for each Read or Write whose ctx can end,
	// and a write timeout needs a timer per write. Instead, stopReadWatch
	// closes the socket once when ctx ends (that is what a cancelled Read
	// did), and writeTimer, re-armed around each write, closes it when a
	// write outlives WriteTimeout (that is what an expired Write ctx did).
	stopReadWatch func() bool
	writeTimer    *time.Timer
}

// New wraps an accepted (or dialled) WebSocket. parent is detached from any
// HTTP request; Run must be called to start reading.
func New(parent context.Context, ws *websocket.Conn, h Handler, opts Options) *Conn {
	if opts.SendQueue <= 0 {
		opts.SendQueue = 256
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancelCause(parent)
	reqCtx, reqCancel := context.WithCancelCause(ctx)
	c := &Conn{
		ws: ws, h: h, opts: opts, log: opts.Logger,
		ctx: ctx, cancel: cancel, reqCtx: reqCtx, reqCancel: reqCancel,
		sendq:      make(chan []byte, opts.SendQueue),
		pending:    make(map[string]chan *protocol.Message),
		closeDone:  make(chan struct{}),
		closeReq:   make(chan struct{}, 1),
		drained:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.stopReadWatch = context.AfterFunc(ctx, func() { ws.CloseNow() })
	c.writeTimer = time.AfterFunc(time.Hour, func() { ws.CloseNow() })
	c.writeTimer.Stop()
	c.writerWG.Add(1)
	go c.writeLoop()
	return c
}

// Context ends when the connection closes; its cause says why.
func (c *Conn) Context() context.Context { return c.ctx }

// Dropped counts messages dropped because the send queue was full.
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }

// Run reads until the connection ends, then fails every pending call with
// ErrClosed, cancels every handler and waits for them. It returns nil on a
// normal close.
func (c *Conn) Run() error {
	err := c.readLoop()
	// The read side is done; ending ctx below must not cut short a close
	// handshake that closeWith is still finishing.
	c.stopReadWatch()
	c.mu.Lock()
	c.closed = true
	c.pending = map[string]chan *protocol.Message{}
	c.mu.Unlock()
	c.cancel(ErrClosed)
	c.handlers.Wait()
	c.writerWG.Wait()
	if c.closeStarted.Load() {
		<-c.closeDone // our close frame and reason reach the peer
	}
	c.ws.CloseNow()
	return err
}

// readBufs holds the buffers messages are read into, shared by every
// connection: a busy connection reuses one, an idle one holds none (a
// widget session mostly waits for a human).
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxReadBuffer bounds the read buffers kept for reuse: a larger message is
// read into a buffer that is then let go, so one big message does not pin
// its size.
const maxReadBuffer = 16 << 10

func (c *Conn) readLoop() error {
	for {
		typ, data, err := c.read()
		if err != nil {
			if c.ctx.Err() != nil { // the watch closed the socket: report why
				return closeErr(context.Cause(c.ctx))
			}
			return closeErr(err)
		}
		if typ != websocket.MessageText {
			c.closeWith(websocket.StatusUnsupportedData, "binary frames are not supported: send each JSON-RPC message as one text frame")
			return errors.New("peer sent a binary frame")
		}
		if c.opts.OnFrame != nil {
			c.opts.OnFrame("in", data)
		}
		c.dispatch(data)
	}
}

// read reads the next message into a pooled buffer and returns a copy of it
// at its exact size: the decoded messages point into that copy, which
// nothing changes, for as long as their handlers (and late records) hold
// them.
func (c *Conn) read() (websocket.MessageType, []byte, error) {
	typ, r, err := c.ws.Reader(context.Background()) // ends when ctx does: see stopReadWatch
	if err != nil {
		return 0, nil, err
	}
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(r)
	data := bytes.Clone(buf.Bytes())
	if buf.Cap() <= maxReadBuffer {
		readBufs.Put(buf)
	}
	return typ, data, err
}

func (c *Conn) dispatch(data []byte) {
	received := time.Now()
	d := protocol.Decode(data)
	for i := range d.Messages {
		d.Messages[i].Received = received
	}
	if d.ParseError != nil {
		c.send(protocol.AppendResponse(nil, nil, nil, d.ParseError))
		return
	}
	if !d.Batch {
		m := &d.Messages[0]
		switch m.Kind {
		case protocol.KindInvalid:
			c.send(protocol.AppendResponse(nil, m.ID, nil, m.Error))
		case protocol.KindResponse:
			c.deliver(m)
		case protocol.KindNotification:
			c.handlers.Add(1)
			go func() {
				defer c.handlers.Done()
				c.h.HandleNotification(c.reqCtx, c, m)
			}()
		case protocol.KindRequest:
			c.handlers.Add(1)
			go func() {
				defer c.handlers.Done()
				if b := c.serve(m); b != nil {
					c.send(b)
				}
			}()
		}
		return
	}
	// A batch: answer every call, in one array, once all are done.
	c.handlers.Add(1)
	go func() {
		defer c.handlers.Done()
		out := make([][]byte, len(d.Messages))
		var wg sync.WaitGroup
		for i := range d.Messages {
			m := &d.Messages[i]
			switch m.Kind {
			case protocol.KindInvalid:
				out[i] = protocol.AppendResponse(nil, m.ID, nil, m.Error)
			case protocol.KindResponse:
				c.deliver(m)
			case protocol.KindNotification:
				wg.Go(func() { c.h.HandleNotification(c.reqCtx, c, m) })
			case protocol.KindRequest:
				wg.Go(func() { out[i] = c.serve(m) })
			}
		}
		wg.Wait()
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
			c.send(append(buf, ']'))
		}
	}()
}

// serve runs one request and returns its encoded response.
func (c *Conn) serve(m *protocol.Message) []byte {
	if c.opts.Admit != nil {
		release, rejected := c.opts.Admit(m)
		if rejected != nil {
			return protocol.AppendResponse(nil, m.ID, nil, rejected)
		}
		if release != nil {
			defer release()
		}
	}
	res, err := c.h.HandleCall(c.reqCtx, c, m)
	if err != nil {
		rpcErr := protocol.AsError(err)
		if rpcErr.Code == protocol.CodeInternal {
			c.log.Error().Err(err).Str("method", m.Method).RawJSON("id", m.ID).Msg("request failed with an internal error")
		}
		return protocol.AppendResponse(nil, m.ID, nil, rpcErr)
	}
	return protocol.AppendResponse(nil, m.ID, res, nil)
}

func (c *Conn) deliver(m *protocol.Message) {
	c.mu.Lock()
	ch, ok := c.pending[string(m.ID)]
	delete(c.pending, string(m.ID))
	c.mu.Unlock()
	if ok {
		ch <- m
		return
	}
	if c.opts.OnUnmatched != nil {
		c.opts.OnUnmatched(m)
	} else {
		c.log.Warn().RawJSON("id", m.ID).Msg("dropped a response that matches no pending call")
	}
}

// Call sends a request and waits for its response, the end of ctx or the end
// of the connection. A response error comes back as a *protocol.Error.
func (c *Conn) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return c.CallObserved(ctx, method, params, nil)
}

// CallObserved is Call that also shows observe (when not nil) the request
// as sent ("out") and the response that answers it ("in", re-encoded from
// the decoded message, since a response may have arrived inside a batch).
// The host hub uses it to put host frames in the capture of the session a
// call belongs to, which the connection-wide Options.OnFrame cannot know.
func (c *Conn) CallObserved(ctx context.Context, method string, params json.RawMessage, observe func(dir string, msg []byte)) (json.RawMessage, error) {
	id := strconv.AppendInt(nil, c.seq.Add(1), 10)
	ch := make(chan *protocol.Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrNotSent
	}
	c.pending[string(id)] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, string(id))
		c.mu.Unlock()
	}
	req := protocol.AppendRequest(nil, id, method, params)
	if observe != nil {
		observe("out", req)
	}
	if !c.send(req) {
		forget()
		return nil, ErrNotSent
	}
	select {
	case m := <-ch:
		if observe != nil {
			observe("in", protocol.AppendResponse(nil, m.ID, m.Result, m.Error))
		}
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		forget()
		return nil, context.Cause(ctx)
	case <-c.ctx.Done():
		forget()
		return nil, ErrClosed
	}
}

// Notify queues a notification without waiting.
func (c *Conn) Notify(method string, params json.RawMessage) error {
	if !c.send(protocol.AppendRequest(nil, nil, method, params)) {
		return ErrClosed
	}
	return nil
}

// send queues one message for the writer without blocking. A full queue means
// the peer is not reading: it is closed with 1008 and the drop counted.
func (c *Conn) send(b []byte) bool {
	if c.ctx.Err() != nil {
		return false
	}
	select {
	case c.sendq <- b:
		return true
	default:
		c.dropped.Add(1)
		c.log.Warn().Int("queue", cap(c.sendq)).Msg("send queue full; closing the slow peer")
		c.closeWith(websocket.StatusPolicyViolation, "send queue full: the peer is not reading its messages")
		return false
	}
}

func (c *Conn) writeLoop() {
	defer c.writerWG.Done()
	defer close(c.writerDone)
	for {
		select {
		case b := <-c.sendq:
			if !c.write(b) {
				return
			}
		case <-c.closeReq:
			// Write what was queued before the close (bounded by the write
			// timer of each write), then leave the socket to closeWith.
			for c.flushOne() {
			}
			close(c.drained)
			return
		case <-c.ctx.Done():
			// Flush what is already queued (e.g. the answers before a close).
			for c.flushOne() {
			}
			return
		}
	}
}

// flushOne writes one queued message; false when the queue is empty or the
// write failed.
func (c *Conn) flushOne() bool {
	select {
	case b := <-c.sendq:
		return c.write(b)
	default:
		return false
	}
}

func (c *Conn) write(b []byte) bool {
	// Record before writing, so a capture never lacks a frame the peer saw.
	if c.opts.OnFrame != nil {
		c.opts.OnFrame("out", b)
	}
	c.writeTimer.Reset(c.opts.WriteTimeout)
	err := c.ws.Write(context.Background(), websocket.MessageText, b)
	if !c.writeTimer.Stop() && err == nil {
		err = errors.New("write timed out")
	}
	if err != nil {
		c.cancel(err)
		return false
	}
	return true
}

// CancelRequests ends the context of every running and future handler with
// cause; the handlers' answers are still sent.
func (c *Conn) CancelRequests(cause error) { c.reqCancel(cause) }

// Shutdown ends the connection in order: handlers are cancelled with cause,
// their answers are sent (waiting at most until ctx ends), then the socket is
// closed with code and reason.
func (c *Conn) Shutdown(ctx context.Context, cause error, code websocket.StatusCode, reason string) {
	c.reqCancel(cause)
	done := make(chan struct{})
	go func() { c.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	c.closeWith(code, reason)
}

// Close sends a close frame with code and reason (after the messages already
// queued) and ends the connection; it does not wait for Run to return.
func (c *Conn) Close(code websocket.StatusCode, reason string) { c.closeWith(code, reason) }

func (c *Conn) closeWith(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if already {
		return
	}
	c.closeStarted.Store(true)
	c.closeReq <- struct{}{} // buffered; sent once (guarded by closed)
	go func() {
		defer close(c.closeDone)
		// The handshake waits for the peer at most ~5 s; CloseNow ends it after.
		select {
		case <-c.drained: // every answer queued before the close is written
		case <-c.writerDone: // the writer stopped (write failed, ctx ended)
		}
		_ = c.ws.Close(code, reason)
		c.cancel(ErrClosed)
	}()
}

// closeErr maps a normal close to nil.
func closeErr(err error) error {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}
