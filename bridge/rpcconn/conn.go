// Package rpcconn is the bridge's JSON-RPC 2.0 engine over one WebSocket:
// one reader, a writer started when a message is queued (an idle connection
// is one goroutine; the reader writes the answers it makes itself when it
// can without blocking, see Options.Wire), handlers on their own
// goroutines, and outgoing calls matched by id. It is spec-exact where sourcegraph/jsonrpc2 is not
// (parse errors answered with id null, batches, byte-exact ids; see
// docs/jsonrpc-library.md).
//
// With a Wire, the reader takes the common message (one masked text frame
// of at most 16 KiB and the size limit) straight from the socket's read
// buffer (Wire.nextText) and leaves everything else (control frames,
// fragmented, binary or larger messages, protocol errors) to
// coder/websocket, which the Wire then feeds one frame at a time so that
// either may read the next one; see fastread.go.
//
// A connection's memory is bounded in bytes: answers wait for the writer
// within Options.MaxSendBytes (a peer that lets more pile up is not reading
// and is closed with 1008), and requests run only when Options.Admit lets
// them. A peer that sends nothing, not even a pong, for IdleTimeout is
// closed, and so is one that leaves a message unfinished for ReadTimeout.
//
// Entry points: New, Conn.Run, Conn.Call, Conn.Notify, Conn.Close,
// Conn.Shutdown, and GuardFrames and WireOf for the HTTP side of an upgrade.
package rpcconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/protocol"
)

// ErrClosed is returned by Call and Notify once the connection is closed.
// Calls that were waiting when the connection ended get a *ClosedError that
// wraps the read error that ended it; errors.Is(err, ErrClosed) holds for it.
var ErrClosed = errors.New("connection closed")

// ErrNotSent is returned by Call when the connection was closed before the
// request could be queued: the peer never got it. errors.Is(err, ErrClosed)
// holds for it too.
var ErrNotSent = fmt.Errorf("%w before the call was sent", ErrClosed)

// ClosedError ends the calls still waiting for an answer when the
// connection ends. Err is why it ended: the read error (the peer's close
// frame, a reset, …) or the close this side sent.
type ClosedError struct{ Err error }

func (e *ClosedError) Error() string {
	if e.Err == nil {
		return ErrClosed.Error()
	}
	return "connection closed: " + e.Err.Error()
}

func (e *ClosedError) Unwrap() error        { return e.Err }
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// Handler serves the peer's requests and notifications. Each call runs on
// its own goroutine with a context that ends when the connection closes.
type Handler interface {
	HandleCall(ctx context.Context, c *Conn, m *protocol.Message) (json.RawMessage, error)
	HandleNotification(ctx context.Context, c *Conn, m *protocol.Message)
}

// Options configure a Conn. Zero values mean the documented default.
type Options struct {
	// MaxSendBytes bounds the bytes of outgoing messages waiting for the
	// writer. A peer that lets more pile up is not reading: it is closed
	// with 1008. One message larger than the budget is still sent when
	// nothing else waits, so a reading peer is never closed. Default 4 MiB.
	MaxSendBytes int64
	// WriteTimeout bounds one WebSocket write. Default 10 s.
	WriteTimeout time.Duration
	// ReadTimeout bounds how long a message may take to arrive once it
	// began: with a Wire, from the first time a read in the middle of it
	// (its first header included) had to wait for the socket; without
	// one, from the end of its first frame header. A peer stalled
	// mid-message is closed with 1008. Default 30 s.
	ReadTimeout time.Duration
	// PingInterval is how often a quiet connection is pinged. Default 15 s;
	// negative disables pings and the idle timeout.
	PingInterval time.Duration
	// IdleTimeout closes (1008) a peer that sent nothing, not even a pong,
	// for this long. Default 30 s (at least 2 × PingInterval).
	IdleTimeout time.Duration
	// Admit, when set, decides whether a request or notification may run.
	// The reader asks it for every one, in the order they arrive (a batch's
	// items in their order) and before any of them runs, so its answers do
	// not depend on goroutine timing. It returns the error to answer with
	// (a refused notification is dropped: notifications are never
	// answered), or a release func (may be nil) called once the handler
	// has returned.
	Admit func(m *protocol.Message) (release func(), err *protocol.Error)
	// Inline, when set, picks the admitted requests the reader serves
	// itself instead of on a goroutine of their own: calls it knows answer
	// at once (an in-memory backend), for which a fresh goroutine and its
	// stack growth cost more than the call. The reader reads nothing else
	// until such a call has answered, so it must never wait on the peer
	// or on a timer. A batch's items always run on their own goroutines.
	Inline func(m *protocol.Message) bool
	// OnFrame sees every message in ("in") and out ("out"), e.g. for capture.
	// An "out" message is valid during the call only (its buffer is reused
	// once written): copy what you keep. It may take as long as it likes
	// (it holds the writer, never the reader); with it set, the reader
	// never writes (see Wire), so leave it nil when it would do nothing.
	OnFrame func(dir string, msg []byte)
	// OnUnmatched sees responses that match no pending call.
	OnUnmatched func(m *protocol.Message)
	// Logger receives this connection's log lines.
	Logger zerolog.Logger
	// Wire, when set, is the socket under ws (WireOf the ResponseWriter
	// GuardFrames gave the upgrade): the writer then sends the messages it
	// finds queued together in one write. Without it every message is a
	// write of its own, through the WebSocket's small writer when the
	// upgrade went through GuardFrames: pass it whenever you can.
	//
	// Unless the upgrade negotiated an extension (compression), the
	// reader then also reads one-frame text messages itself, without
	// coder/websocket (fast mode, see Wire). Set the WebSocket's read
	// limit (SetReadLimit) to GuardFrames' limit: the reader applies the
	// latter to the messages it takes, coder/websocket the former to the
	// rest.
	//
	// On a plain TCP or Unix socket without OnFrame, the Wire is also put
	// in try mode: the reader writes the answers it makes (inline calls,
	// refusals) itself when no writer runs, with a write that never
	// blocks (framed by the Wire itself unless the upgrade negotiated an
	// extension). What the socket does not take at once waits in the Wire's
	// backlog (counted in MaxSendBytes) and a writer goroutine sends it
	// under WriteTimeout; control frames (pings, pongs) written outside the
	// writer do the same. A peer that stops reading never stops the reader.
	Wire *Wire
}

// controlMargin is what control frames (pongs, pings, a close) may add to
// a Wire's backlog beyond MaxSendBytes before a write of one fails.
const controlMargin = 64 << 10

// DefaultMaxSendBytes is Options.MaxSendBytes' default.
const DefaultMaxSendBytes = 4 << 20

func (o *Options) setDefaults() {
	if o.MaxSendBytes <= 0 {
		o.MaxSendBytes = DefaultMaxSendBytes
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.PingInterval == 0 {
		o.PingInterval = 15 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.PingInterval > 0 && o.IdleTimeout < 2*o.PingInterval {
		o.IdleTimeout = 2 * o.PingInterval
	}
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

	// st is everything that changes as the connection closes; see state.go.
	st state
	// closing mirrors st.phase != phaseOpen for the reader, which stops
	// serving what arrives once the connection is closing (its answers
	// could not be sent).
	closing atomic.Bool

	// try is set when the reader may write its own answers (writeOnReader):
	// the Wire is in try mode and no OnFrame hook sees the writes.
	try bool
	// frames is set when, in try mode, the reader also frames its answers
	// itself (Wire.tryText): no extension changes how frames are made.
	frames bool

	// spare is the queue slice the writer hands back; owned by the writer
	// running (st.writing), passed from one writer to the next under st.mu.
	spare [][]byte
	// drained is closed once the connection is closing and nothing more
	// will be written: no writer runs and none can start (state.go).
	drained chan struct{}

	seq      atomic.Int64 // ids of outgoing calls
	handlers group
	writerWG sync.WaitGroup

	// closeDone is closed when the close handshake started by closeWith
	// ends (only when one was started).
	closeDone chan struct{}

	// lastSeen is when the peer last sent anything (a message or a pong),
	// in Unix nanoseconds; the keepalive reads it.
	lastSeen atomic.Int64

	// Reads and writes run without a per-call context: coder/websocket
	// arms a context.AfterFunc for each Read or Write whose ctx can end,
	// and a timeout needs a timer per operation. Instead, stopReadWatch
	// closes the socket once when ctx ends, writeTimer (re-armed around
	// each write) when a write outlives WriteTimeout, readTimer when a
	// message outlives ReadTimeout, and pingTimer runs the keepalive.
	stopReadWatch func() bool
	writeTimer    *time.Timer
	readTimer     *time.Timer
	readStalled   atomic.Bool
	pingTimer     *time.Timer
	keepaliveWG   sync.WaitGroup // a keepalive run (its ping) in progress
}

// New wraps an accepted (or dialled) WebSocket. parent is detached from any
// HTTP request; Run must be called to start reading.
func New(parent context.Context, ws *websocket.Conn, h Handler, opts Options) *Conn {
	opts.setDefaults()
	ctx, cancel := context.WithCancelCause(parent)
	reqCtx, reqCancel := context.WithCancelCause(ctx)
	c := &Conn{
		ws: ws, h: h, opts: opts, log: opts.Logger,
		ctx: ctx, cancel: cancel, reqCtx: reqCtx, reqCancel: reqCancel,
		drained:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	c.st.pending = make(map[string]chan *protocol.Message)
	if opts.Wire != nil && opts.OnFrame == nil {
		// Control frames written outside the writer may wait in the
		// backlog up to the send budget plus a margin for them.
		c.try = opts.Wire.setTry(opts.MaxSendBytes+controlMargin, c.kick)
		c.frames = c.try && opts.Wire.plainFrames()
	}
	c.seen()
	c.stopReadWatch = context.AfterFunc(ctx, func() {
		c.advance(phaseClosing, context.Cause(ctx)) // nothing more is queued
		c.closeNow()
	})
	c.writeTimer = time.AfterFunc(time.Hour, func() {
		// The cause first: the reader, failing on the closed socket,
		// reports it (and not the closed socket) as why Run ended.
		c.cancel(errWriteTimeout)
		c.closeNow()
	})
	c.writeTimer.Stop()
	c.readTimer = time.AfterFunc(time.Hour, c.stalled)
	c.readTimer.Stop()
	if opts.Wire != nil {
		opts.Wire.setStall(opts.ReadTimeout, c.readTimer)
		opts.Wire.setFast()
	}
	if opts.PingInterval > 0 {
		c.pingTimer = time.AfterFunc(opts.PingInterval, c.keepalive)
	}
	return c
}

// Context ends when the connection closes; its cause says why.
func (c *Conn) Context() context.Context { return c.ctx }

// Run reads until the connection ends, then retires every pending call with
// the read error, cancels every handler and waits for them. It returns nil
// on a normal close.
func (c *Conn) Run() error {
	err := c.readLoop()
	// The read side is done; ending ctx below must not cut short a close
	// handshake that closeWith is still finishing.
	c.stopReadWatch()
	c.readTimer.Stop()
	c.st.mu.Lock()
	c.st.readerDone = true
	c.st.mu.Unlock()
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	// A failed ping closes the socket under the reader before the
	// keepalive records why: wait for it, then report our close if any.
	c.keepaliveWG.Wait()
	if cs := c.sentClose(); cs != nil && errors.Is(err, net.ErrClosed) {
		err = cs
	}
	c.end(err)
	c.cancel(ErrClosed)
	c.handlers.wait()
	c.writerWG.Wait()
	if c.st.closeStarted() {
		<-c.closeDone // our close frame and reason reach the peer
	}
	c.closeNow()
	return closeErr(err)
}

// closeNow closes the socket at once, dropping what the Wire still holds
// unwritten: the connection's own cut-offs (a write timeout, its context
// ending, Run's end) must not wait for a peer that does not read.
func (c *Conn) closeNow() {
	if c.opts.Wire != nil {
		c.opts.Wire.setAbort()
	}
	c.ws.CloseNow()
}

// CancelRequests ends the context of every running and future handler with
// cause; the handlers' answers are still sent.
func (c *Conn) CancelRequests(cause error) { c.reqCancel(cause) }

// Shutdown ends the connection in order: handlers are cancelled with cause,
// their answers are sent (waiting at most until ctx ends), then the socket is
// closed with code and reason.
func (c *Conn) Shutdown(ctx context.Context, cause error, code websocket.StatusCode, reason string) {
	c.reqCancel(cause)
	select {
	case <-c.handlers.zero():
	case <-ctx.Done():
	}
	c.closeWith(code, reason)
}

// Close sends a close frame with code and reason (after the messages already
// queued) and ends the connection; it does not wait for Run to return.
func (c *Conn) Close(code websocket.StatusCode, reason string) { c.closeWith(code, reason) }

// closeWith starts the close: nothing more is queued, the writer writes
// what was queued before, then the close frame goes out.
func (c *Conn) closeWith(code websocket.StatusCode, reason string) {
	cause := &closeSent{code: code, reason: reason}
	if c.advance(phaseClosing, cause) {
		c.startClose(cause)
	}
}

// startClose sends the close frame once the writer has drained; the phase
// is already phaseClosing with cs as its cause.
func (c *Conn) startClose(cs *closeSent) {
	go func() {
		defer close(c.closeDone)
		<-c.drained // every answer queued before the close is written (or the writer failed)
		if c.try {
			// The close frame goes out after any backlog, written by
			// this goroutine, blocking (the handshake bounds it to 5 s):
			// a backlog left now might find no writer to send it.
			c.opts.Wire.stopTry()
		}
		// The handshake waits for the peer at most ~5 s; CloseNow ends it after.
		_ = c.ws.Close(cs.code, cs.reason)
		c.cancel(cs)
	}()
}

// closeSent is the cause recorded when this side closes: the calls still
// pending are retired with it.
type closeSent struct {
	code   websocket.StatusCode
	reason string
}

func (e *closeSent) Error() string {
	return fmt.Sprintf("closed by the bridge with %d: %s", int(e.code), e.reason)
}

func budgetReason(max int64) string {
	return fmt.Sprintf("not reading: more than %d bytes of messages wait to be sent", max)
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
	var cs *closeSent
	if errors.As(err, &cs) && (cs.code == websocket.StatusNormalClosure || cs.code == websocket.StatusGoingAway) {
		return nil
	}
	return err
}
