package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/cifbridge/cifbridge/protocol"
)

// Errors of a Conn, matched with errors.Is.
var (
	// ErrDisconnected: the socket dropped while the call was in flight. The
	// bridge may have executed it; it is not re-sent.
	ErrDisconnected = errors.New("cifbridge: connection lost")
	// ErrClosed: the Conn was closed (Close, or a reconnect the bridge
	// refused).
	ErrClosed = errors.New("cifbridge: connection closed")
	// ErrSessionMoved: another connection resumed this Conn's session (the
	// bridge closed the socket with 4001); the Conn does not take it back.
	// It wraps ErrClosed.
	ErrSessionMoved = fmt.Errorf("%w: another connection resumed the session (close 4001)", ErrClosed)
)

// Options configure Dial, Resume, DialRaw and DialHost. A nil *Options
// means the defaults; the value is copied before defaults are filled, so
// one Options may serve many dials.
type Options struct {
	// Token is sent as "Authorization: Bearer <token>" when set.
	Token string
	// Header adds request headers (e.g. Origin).
	Header http.Header
	// ReadLimit is the largest message accepted. Default DefaultReadLimit.
	ReadLimit int64
	// WriteTimeout bounds one write of Conn and DialHost (a stuck bridge is
	// dropped). Default DefaultWriteTimeout. RawConn.Write uses the
	// caller's context as it is.
	WriteTimeout time.Duration
	// HTTPClient dials the WebSocket; nil means http.DefaultClient.
	HTTPClient *http.Client

	// Profile is sent in bridge.hello: protocol.ProfileCIF1 (10 s CIF
	// timeout) or protocol.ProfileCIF2 (100 s); "" keeps the bridge's
	// default.
	Profile string
	// Client names this program in the bridge's logs and dashboard.
	// Default "cifbridge-go".
	Client string
	// EnreachToken is the session's Enreach bearer token (enreach.* calls
	// against a real Enreach API); never logged by the bridge.
	EnreachToken string
	// Session and ResumeToken resume an existing session instead of
	// starting one (see Resume).
	Session     string
	ResumeToken string

	// OnLate receives each bridge.late notification: a call that failed
	// with protocol.ErrTimeout (-32000) was answered after all.
	OnLate func(protocol.LateParams)
	// OnLedger receives each bridge.ledger notification: a duplicate-ledger
	// entry of this session changed.
	OnLedger func(protocol.LedgerParams)
	// OnNotify receives any other notification.
	OnNotify func(method string, params json.RawMessage)
	// OnLate, OnLedger and OnNotify run on the connection's reader, in
	// arrival order: they must return quickly and must not call the Conn
	// (hand work to a goroutine or a channel).

	// OnEvent answers the events the bridge raises (cif.onclicktoact, …;
	// event is the name without "cif.", data its eventData). Its result
	// (or error: a *protocol.Error keeps its code) is the widget's answer,
	// which the bridge awaits under the CIF timeout. Each event runs in its
	// own goroutine; ctx ends when the connection does. Nil answers every
	// event with null.
	OnEvent func(ctx context.Context, event string, data json.RawMessage) (any, error)

	// Reconnect makes the Conn redial after the socket drops, with
	// exponential backoff from ReconnectMin to ReconnectMax (defaults
	// DefaultReconnectMin, DefaultReconnectMax) and jitter, and resume its
	// session. Calls in flight when it dropped fail with ErrDisconnected;
	// calls made while it redials wait for the new connection (or their
	// ctx). Without Reconnect a dropped Conn fails every call.
	Reconnect                  bool
	ReconnectMin, ReconnectMax time.Duration
	// OnReconnect, when set, is told each reconnect: the new bridge.hello
	// result (Resumed false means the bridge no longer knew the session
	// and started it afresh under the same id), or the error that ended
	// reconnecting.
	OnReconnect func(protocol.HelloResult, error)
}

// Conn is a widget session on a bridge. Its methods are safe for
// concurrent use.
type Conn struct {
	url  string
	opts Options
	// moved is set when the bridge closed the socket with 4001: another
	// connection resumed the session.
	moved atomic.Bool

	// mu guards the fields below it.
	mu     sync.Mutex
	jc     *jsonrpc2.Conn       // current connection; nil while redialling or once down
	ready  chan struct{}        // closed when jc is set or the Conn is down; replaced on a drop
	hello  protocol.HelloResult // the last bridge.hello result
	down   error                // set once the Conn is closed for good
	cancel context.CancelFunc   // ends the reconnect loop and event handlers
	ctx    context.Context      // the Conn's lifetime
	wg     sync.WaitGroup       // the watcher and reconnect goroutines
}

// Dial connects to a bridge's widget endpoint (ws://host:port/v1/widget)
// and says bridge.hello. opts may be nil. ctx bounds the dial and the
// hello; the Conn lives until Close.
func Dial(ctx context.Context, url string, opts *Options) (*Conn, error) {
	o := opts.withDefaults()
	lctx, cancel := context.WithCancel(context.Background())
	c := &Conn{url: url, opts: o, ready: make(chan struct{}), ctx: lctx, cancel: cancel}
	c.hello.Session, c.hello.ResumeToken = o.Session, o.ResumeToken
	jc, res, err := c.connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	c.attach(jc, res)
	return c, nil
}

// Resume dials back into session (its id and the resume token of the
// bridge.hello that created it, Conn.ResumeToken) as if by Dial.
func Resume(ctx context.Context, url, session, resumeToken string, opts *Options) (*Conn, error) {
	o := opts.withDefaults()
	o.Session, o.ResumeToken = session, resumeToken
	return Dial(ctx, url, &o)
}

// connect dials and says hello, resuming c's session when it has one.
func (c *Conn) connect(ctx context.Context) (*jsonrpc2.Conn, protocol.HelloResult, error) {
	var res protocol.HelloResult
	rc, err := DialRaw(ctx, c.url, &c.opts)
	if err != nil {
		return nil, res, err
	}
	st := NewStream(rc, &c.opts)
	st.onReadError = func(err error) {
		if CloseStatus(err) == protocol.CloseSessionMoved {
			c.moved.Store(true)
		}
	}
	jc := jsonrpc2.NewConn(context.Background(), st, handlerFunc(c.handle),
		jsonrpc2.SetLogger(log.New(io.Discard, "", 0)))
	c.mu.Lock()
	p := protocol.HelloParams{Profile: c.opts.Profile, Client: c.opts.Client, EnreachToken: c.opts.EnreachToken,
		Session: c.hello.Session, ResumeToken: c.hello.ResumeToken}
	c.mu.Unlock()
	if err := call(ctx, jc, protocol.MethodHello, p, &res); err != nil {
		jc.Close()
		return nil, res, fmt.Errorf("%s: %w", protocol.MethodHello, err)
	}
	return jc, res, nil
}

// attach makes jc the current connection and watches it; false when the
// Conn was closed meanwhile (jc is then closed).
func (c *Conn) attach(jc *jsonrpc2.Conn, res protocol.HelloResult) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down != nil {
		jc.Close()
		return false
	}
	if res.ResumeToken == "" {
		res.ResumeToken = c.hello.ResumeToken // a bridge that issues none keeps the caller's
	}
	c.jc, c.hello = jc, res
	close(c.ready)
	c.wg.Add(1)
	go c.watch(jc)
	return true
}

// takeDown ends the Conn with err unless it is down already, and wakes the
// callers waiting for a connection. mu is held.
func (c *Conn) takeDown(err error) {
	if c.down != nil {
		return
	}
	c.down = err
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
}

// watch waits for jc to drop, then redials or takes the Conn down.
func (c *Conn) watch(jc *jsonrpc2.Conn) {
	defer c.wg.Done()
	select {
	case <-jc.DisconnectNotify():
	case <-c.ctx.Done():
		return
	}
	c.mu.Lock()
	if c.down != nil {
		c.mu.Unlock()
		return
	}
	c.jc = nil
	if c.moved.Load() {
		// Another connection resumed this session (close 4001): taking it
		// back would start a tug of war, so this Conn stops.
		c.takeDown(ErrSessionMoved)
		c.mu.Unlock()
		return
	}
	if !c.opts.Reconnect {
		c.takeDown(fmt.Errorf("%w (reconnect is off)", ErrDisconnected))
		c.mu.Unlock()
		return
	}
	c.ready = make(chan struct{})
	c.mu.Unlock()
	c.reconnect()
}

// reconnect redials with backoff until it resumes, the bridge refuses, or
// the Conn is closed.
func (c *Conn) reconnect() {
	wait := c.opts.ReconnectMin
	for {
		t := time.NewTimer(jitter(wait))
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return
		}
		dctx, cancel := context.WithTimeout(c.ctx, DefaultWriteTimeout)
		jc, res, err := c.connect(dctx)
		cancel()
		if err == nil {
			if !c.attach(jc, res) {
				return
			}
			if c.opts.OnReconnect != nil {
				c.opts.OnReconnect(res, nil)
			}
			return
		}
		if refused(err) {
			// The bridge answered and refused (a token or resume token it
			// does not accept): dialling again would be refused again.
			c.mu.Lock()
			c.takeDown(fmt.Errorf("%w: the bridge refused to resume session %s: %w", ErrClosed, c.hello.Session, err))
			c.mu.Unlock()
			if c.opts.OnReconnect != nil {
				c.opts.OnReconnect(protocol.HelloResult{}, err)
			}
			return
		}
		wait = min(2*wait, c.opts.ReconnectMax)
	}
}

// refused reports whether a reconnect failed for good: the bridge refused
// the token, the Origin or the resume (-32004), or the hello's params
// (-32602). A bridge shutting down (-32007) or overloaded (-32003), and
// any transport error, are worth another try.
func refused(err error) bool {
	return errors.Is(err, protocol.ErrUnauthorized) || errors.Is(err, protocol.ErrInvalidParams)
}

// jitter spreads d by ±20% so that many clients do not redial in step.
func jitter(d time.Duration) time.Duration {
	return d*4/5 + rand.N(d*2/5+1)
}

// current returns the live connection, waiting while the Conn redials.
func (c *Conn) current(ctx context.Context) (*jsonrpc2.Conn, error) {
	for {
		c.mu.Lock()
		jc, ready, down := c.jc, c.ready, c.down
		c.mu.Unlock()
		switch {
		case down != nil:
			return nil, down
		case jc != nil:
			return jc, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the bridge connection: %w", ctx.Err())
		}
	}
}

// Call sends method with params and decodes the result into result (nil:
// discard it). Errors from the bridge are *protocol.Error. A call is sent
// at most once: when the socket drops before the answer, Call returns
// ErrDisconnected.
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	jc, err := c.current(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if err := call(ctx, jc, method, params, result); err != nil {
		if errors.Is(err, jsonrpc2.ErrClosed) {
			c.mu.Lock()
			down := c.down
			c.mu.Unlock()
			if errors.Is(down, ErrClosed) {
				return fmt.Errorf("%s: %w", method, down)
			}
			return fmt.Errorf("%s: %w: the call was sent and may have run on the bridge; it is not re-sent", method, ErrDisconnected)
		}
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// call is one jsonrpc2 call with its error converted to *protocol.Error.
func call(ctx context.Context, jc *jsonrpc2.Conn, method string, params, result any) error {
	var raw json.RawMessage
	if err := jc.Call(ctx, method, params, &raw); err != nil {
		return fromJSONRPC(err)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return fmt.Errorf("decode the result: %w", err)
	}
	return nil
}

// fromJSONRPC turns the library's error object into the protocol's, so
// callers match it with errors.As / errors.Is against protocol sentinels.
func fromJSONRPC(err error) error {
	var je *jsonrpc2.Error
	if !errors.As(err, &je) {
		return err
	}
	pe := &protocol.Error{Code: je.Code, Message: je.Message}
	if je.Data != nil {
		pe.Data = append(json.RawMessage(nil), *je.Data...)
	}
	return pe
}

// toJSONRPC is the reverse, for the answers to events.
func toJSONRPC(err error) *jsonrpc2.Error {
	pe := protocol.AsError(err)
	je := &jsonrpc2.Error{Code: pe.Code, Message: pe.Message}
	if len(pe.Data) > 0 {
		d := pe.Data
		je.Data = &d
	}
	return je
}

// handle serves what the bridge sends: notifications on the reader, event
// requests each in a goroutine.
func (c *Conn) handle(ctx context.Context, jc *jsonrpc2.Conn, req *jsonrpc2.Request) {
	var params json.RawMessage
	if req.Params != nil {
		params = *req.Params
	}
	if req.Notif {
		c.notify(req.Method, params)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down != nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.answerEvent(jc, req.ID, req.Method, params)
	}()
}

func (c *Conn) notify(method string, params json.RawMessage) {
	switch {
	case method == protocol.NotifyLate && c.opts.OnLate != nil:
		var p protocol.LateParams
		if json.Unmarshal(params, &p) == nil {
			c.opts.OnLate(p)
			return
		}
	case method == protocol.NotifyLedger && c.opts.OnLedger != nil:
		var p protocol.LedgerParams
		if json.Unmarshal(params, &p) == nil {
			c.opts.OnLedger(p)
			return
		}
	}
	if c.opts.OnNotify != nil {
		c.opts.OnNotify(method, params)
	}
}

func (c *Conn) answerEvent(jc *jsonrpc2.Conn, id jsonrpc2.ID, method string, params json.RawMessage) {
	event, ok := strings.CutPrefix(method, protocol.EventPrefix)
	if !ok {
		_ = jc.ReplyWithError(c.ctx, id, &jsonrpc2.Error{Code: protocol.CodeMethodNotFound,
			Message: fmt.Sprintf("a widget answers only %s* events, not %q", protocol.EventPrefix, method)})
		return
	}
	if c.opts.OnEvent == nil {
		_ = jc.Reply(c.ctx, id, nil)
		return
	}
	var p protocol.EventParams
	if len(params) > 0 {
		if err := json.Unmarshal(params, &p); err != nil {
			_ = jc.ReplyWithError(c.ctx, id, toJSONRPC(protocol.InvalidParams("event params: %v", err)))
			return
		}
	}
	res, err := c.opts.OnEvent(c.ctx, event, p.EventData)
	if err != nil {
		_ = jc.ReplyWithError(c.ctx, id, toJSONRPC(err))
		return
	}
	_ = jc.Reply(c.ctx, id, res)
}

// Session is the session id (bridge.hello's result).
func (c *Conn) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hello.Session
}

// ResumeToken is the secret that resumes this session (Resume); empty
// when the bridge issues none.
func (c *Conn) ResumeToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hello.ResumeToken
}

// Hello is the last bridge.hello result: profile, CIF timeout, bridge
// version, whether the session was resumed.
func (c *Conn) Hello() protocol.HelloResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hello
}

// Close ends the session's connection (the session itself stays
// resumable on the bridge for its resume window) and waits for the
// Conn's goroutines. Calls in flight fail with ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if !errors.Is(c.down, ErrClosed) {
		c.down = nil
		c.takeDown(ErrClosed)
	}
	jc := c.jc
	c.jc = nil
	c.mu.Unlock()
	c.cancel()
	var err error
	if jc != nil {
		if err = jc.Close(); errors.Is(err, jsonrpc2.ErrClosed) {
			err = nil
		}
	}
	c.wg.Wait()
	return err
}

// handlerFunc adapts a function to jsonrpc2.Handler.
type handlerFunc func(context.Context, *jsonrpc2.Conn, *jsonrpc2.Request)

func (f handlerFunc) Handle(ctx context.Context, c *jsonrpc2.Conn, r *jsonrpc2.Request) { f(ctx, c, r) }
