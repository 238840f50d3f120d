package rpcconn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Wire is the socket under a WebSocket hijacked through GuardFrames. It
// holds no buffer while the connection is idle:
//
//   - reads wait for the socket to be readable without a buffer (on a
//     plain socket, see waitRead) and then read into one lent by readPool,
//     given back once the WebSocket has taken every byte of it;
//   - writes go straight to the socket, except between cork and uncork,
//     when the writer has several messages queued: they are gathered in a
//     buffer lent by batchPool and go out in one write;
//   - in try mode (setTry, a plain socket), a write outside the writer's
//     cork never blocks: it writes what the socket takes at once and keeps
//     the rest in a backlog, which every later write sends first, in
//     order; the connection's writer goroutine (started by kick) sends it
//     with its write timeout.
//
// It also scans the frame headers it reads (frameScan): a message that a
// header announces as too big is refused at once.
//
// In fast mode (setFast: no extension was negotiated) the connection's
// reader takes the common message itself, straight from the read buffer
// (nextText), and the WebSocket reads only the rest, never past the end of
// the frame it is in (see Read).
type Wire struct {
	net.Conn
	raw rawConn // nil when the socket cannot wait without a buffer

	// rmu orders the reads: the connection's reader (through the
	// WebSocket, or nextText) and the WebSocket's close handshake, which
	// reads on its own goroutine, under the WebSocket's lock that nextText
	// does not take. It guards the read side's fields, down to rerr. Not
	// a sync.Mutex: the handshake may wait on it for a read under way,
	// and its waiters must let a testing/synctest bubble's clock (the
	// handshake's 5 s) run on (readLock).
	rmu  readLock
	pre  []byte // read by the HTTP server before the hijack
	scan frameScan
	err  error // sticky once a frame is refused
	// fast is set in fast mode (setFast); fastMax is the largest payload
	// nextText takes.
	fast    bool
	fastMax int64
	// fastN counts the messages nextText took.
	fastN atomic.Int64
	// extensions is set when the upgrade negotiated a WebSocket
	// extension: frames are then the WebSocket's to make (plainFrames).
	extensions bool

	// A message begun must be complete within stallAfter (setStall):
	// stallTimer (the Conn's) runs only while a read in the middle of one waits for
	// the socket, until stallAt, fixed when message begun number stallSeq
	// (frameScan.begun) first waited. Reads between messages, and reads
	// that find their bytes buffered (most), arm no timer.
	stallAfter time.Duration
	stallTimer *time.Timer
	stallAt    time.Time
	stallSeq   uint32

	rbox *[]byte // the read buffer lent while unread bytes wait in it
	rbuf []byte  // those bytes

	// waitRead's: the func handed to raw.Read, and what its read returned.
	rawRead func(fd uintptr) bool
	rn      int
	rerr    error

	wmu    sync.Mutex // orders every write to the socket
	corked bool
	wbox   *[]byte // the batch being gathered, while corked

	// Try mode (setTry): try is set while writes outside a blocking cork
	// must not block (changed under wmu; atomic so that Close may read it
	// without wmu); tryCork while the cork is the reader's (cork(true)),
	// whose writes go to the backlog until uncorkTry.
	try     atomic.Bool
	tryCork bool
	// back is the backlog: bytes accepted but not yet written, in order
	// (a buffer lent by batchPool while it holds any); backN its length,
	// read without wmu.
	back  *[]byte
	backN atomic.Int64
	// deferred counts the non-blocking writes that left bytes behind.
	deferred atomic.Int64
	// backMax bounds the backlog a write outside a cork may add to (the
	// reader's writes are bounded by the connection's send budget).
	backMax int64
	// kick is called, without wmu, when a write outside a cork left a
	// backlog: it starts the connection's writer to send it.
	kick func()
	// writeNow's: the func handed to raw.Write, and its bytes and result.
	rawWrite func(fd uintptr) bool
	wp       []byte
	wn       int
	werr     error

	// abort makes Close close at once, without sending what waits (see
	// Close): set by the connection's own cut-offs (a write timeout, its
	// context ending).
	abort atomic.Bool
	// closed is set once Close began: a read that fails then failed
	// because of it (closedErr).
	closed atomic.Bool
}

// rawConn is the part of syscall.RawConn waitRead and writeNow need.
type rawConn interface {
	Read(f func(fd uintptr) (done bool)) error
	Write(f func(fd uintptr) (done bool)) error
}

const (
	// readBufferSize is the size of a lent read buffer: one read takes a
	// whole typical message and its header.
	readBufferSize = 4 << 10
	// maxBatch bounds a batch: a fuller one is written out first, and a
	// message this large goes out on its own.
	maxBatch = 64 << 10
)

var (
	readPool  = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}
	batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

func newWire(conn net.Conn, pre []byte, limit int64) *Wire {
	w := &Wire{Conn: conn, rmu: newReadLock(), pre: pre, scan: frameScan{limit: limit, need: 2}}
	w.raw = rawOf(conn)
	return w
}

// Read reads what the peer sent, scanning frame headers as they pass. In
// fast mode it returns at most the rest of the frame the scan is in (its
// header, then its payload): the WebSocket, whose buffered reader reads
// through here, then never holds bytes of a frame it has not begun, and
// nextText may take the next one.
func (w *Wire) Read(p []byte) (int, error) {
	w.rmu.lock()
	defer w.rmu.unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.fast {
		if left := w.scan.left(); int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := w.read(p)
	if n > 0 {
		if serr := w.scan.feed(p[:n]); serr != nil {
			w.err = serr
			return 0, serr
		}
	}
	return n, err
}

func (w *Wire) read(p []byte) (int, error) {
	if len(w.pre) > 0 {
		n := copy(p, w.pre)
		w.pre = w.pre[n:]
		return n, nil
	}
	if len(w.rbuf) == 0 {
		timed := w.armStall()
		if len(p) >= readBufferSize {
			n, err := w.Conn.Read(p) // a large read in the middle of a message
			w.disarmStall(timed)
			return n, err
		}
		err := w.fill()
		w.disarmStall(timed)
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, w.rbuf)
	w.consume(n)
	return n, nil
}

// consume drops the first n bytes waiting in the read buffer, giving the
// buffer back once they are all taken.
func (w *Wire) consume(n int) {
	w.rbuf = w.rbuf[n:]
	if len(w.rbuf) == 0 && w.rbox != nil {
		readPool.Put(w.rbox)
		w.rbox, w.rbuf = nil, nil
	}
}

// fill reads into a lent buffer; on a plain socket it borrows the buffer
// only once the socket is readable.
func (w *Wire) fill() error {
	if w.raw != nil {
		return w.waitRead()
	}
	box := readPool.Get().(*[]byte)
	n, err := w.Conn.Read(*box)
	if n == 0 {
		readPool.Put(box)
		return err
	}
	w.rbox, w.rbuf = box, (*box)[:n]
	return nil // err, if any, comes again on the next read
}

// tryText writes msgs as unfragmented text frames of a server (RFC 6455
// §5.2, unmasked), in order, without blocking: the reader's own answers
// (writeOnReader). They join the backlog, behind anything already waiting
// there, and go out with what the socket takes at once; the rest stays
// in the backlog. Framing here, instead of through the WebSocket's
// writer, copies each answer once, straight into the buffer the socket
// write takes, under one lock. Out of try mode (the Wire was closed
// meanwhile) it writes blocking, as uncorkTry would.
//
// Only the reader writes data frames while it holds the writer role, and
// whatever else the WebSocket writes meanwhile (a ping from the
// keepalive) reaches the Wire as one Write, under wmu: frames never
// interleave.
func (w *Wire) tryText(msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.back == nil {
		w.back = batchPool.Get().(*[]byte)
	}
	for _, b := range msgs {
		*w.back = appendTextFrame(*w.back, b)
	}
	w.backN.Store(int64(len(*w.back)))
	if w.corked || !w.try.Load() {
		return w.flushBackLocked()
	}
	return w.tryBackLocked()
}

// appendTextFrame appends p as one unmasked text frame with fin set.
func appendTextFrame(dst, p []byte) []byte {
	const finText = 0x80 | 0x1
	switch n := len(p); {
	case n < 126:
		dst = append(dst, finText, byte(n))
	case n <= 0xffff:
		dst = append(dst, finText, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, finText, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, p...)
}

// plainFrames reports whether tryText may frame messages itself: no
// extension (permessage-deflate) was negotiated, so a data frame is its
// header and the payload as is.
func (w *Wire) plainFrames() bool { return w.raw != nil && !w.extensions }

// setStall makes the Wire run t (stopped, its func closes the
// connection) once a message it began to read is not complete within d.
// Call it before the first read.
func (w *Wire) setStall(d time.Duration, t *time.Timer) {
	w.stallAfter, w.stallTimer = d, t
}

// armStall runs before a read that waits for the socket: in the middle of
// a message it arms the stall timer for what is left of the message's
// time, and reports that it did.
func (w *Wire) armStall() bool {
	if w.stallTimer == nil || w.scan.boundary() {
		return false
	}
	return w.armStallFor(w.scan.begun)
}

// armStallFor arms the stall timer for message begun number seq.
func (w *Wire) armStallFor(seq uint32) bool {
	if w.stallTimer == nil {
		return false
	}
	if w.stallAt.IsZero() || w.stallSeq != seq {
		w.stallAt, w.stallSeq = time.Now().Add(w.stallAfter), seq
	}
	w.stallTimer.Reset(time.Until(w.stallAt))
	return true
}

func (w *Wire) disarmStall(timed bool) {
	if timed {
		w.stallTimer.Stop()
	}
}

// cork gathers the writes that follow into one batch, until uncork. With
// try (the reader, in try mode) they go to the backlog instead, and
// uncorkTry sends them without blocking.
func (w *Wire) cork(try bool) {
	w.wmu.Lock()
	w.corked = true
	w.tryCork = try && w.try.Load()
	w.wmu.Unlock()
}

// uncork writes the backlog, then the batch gathered since cork; it blocks
// until the socket took them (the caller times it).
func (w *Wire) uncork() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.corked, w.tryCork = false, false
	return w.flushLocked()
}

// uncorkTry ends the reader's cork: it writes what the socket takes at once
// of the backlog and keeps the rest there (backlog tells).
func (w *Wire) uncorkTry() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if !w.tryCork { // not in try mode after all: a blocking uncork
		w.corked = false
		return w.flushLocked()
	}
	w.corked, w.tryCork = false, false
	return w.tryBackLocked()
}

// flushLocked writes the backlog, then the batch, blocking.
func (w *Wire) flushLocked() error {
	if err := w.flushBackLocked(); err != nil {
		return err
	}
	if w.wbox == nil {
		return nil
	}
	box := w.wbox
	w.wbox = nil
	_, err := w.Conn.Write(*box)
	if cap(*box) <= maxBatch {
		*box = (*box)[:0]
		batchPool.Put(box)
	}
	return err
}

// Write writes p, or adds it to the batch while corked (to the backlog in
// the reader's cork). In try mode a write outside a cork never blocks: see
// Wire.
func (w *Wire) Write(p []byte) (int, error) {
	w.wmu.Lock()
	if w.tryCork {
		w.appendBackLocked(p)
		w.wmu.Unlock()
		return len(p), nil
	}
	if !w.corked && w.try.Load() {
		err := w.tryLocked(p)
		kick := w.backN.Load() > 0 && w.kick != nil
		w.wmu.Unlock()
		if err != nil {
			return 0, err
		}
		if kick {
			w.kick()
		}
		return len(p), nil
	}
	defer w.wmu.Unlock()
	if !w.corked {
		if err := w.flushBackLocked(); err != nil {
			return 0, err
		}
		return w.Conn.Write(p)
	}
	if w.wbox != nil && len(*w.wbox)+len(p) > maxBatch || len(p) >= maxBatch {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= maxBatch {
		return w.Conn.Write(p)
	}
	if w.wbox == nil {
		w.wbox = batchPool.Get().(*[]byte)
	}
	*w.wbox = append(*w.wbox, p...)
	return len(p), nil
}

// closeFlushTimeout bounds how long Close sends what the Wire accepted but
// has not written: coder/websocket's bound on writing a close frame.
const closeFlushTimeout = 5 * time.Second

// Close closes the socket, first writing what the Wire accepted but has
// not written yet (the backlog, a batch gathered under the cork), within
// closeFlushTimeout: coder/websocket calls it right after writing the close
// frame that answers the peer's, and that frame may still wait in the
// backlog (try mode) or in the writer's batch (the writer had the Wire
// corked when it was written), behind answers. In try mode it waits for a
// write under way to end first. Out of try mode it writes only when no
// write is under way (a write holding the Wire may be the blocked one a
// timeout cuts, and the batch is then that write's to send or lose). After
// setAbort it closes at once.
func (w *Wire) Close() error {
	w.closed.Store(true)
	switch {
	case w.abort.Load():
	case w.try.Load():
		w.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		w.wmu.Lock()
		w.corked, w.tryCork = false, false
		w.try.Store(false)
		w.flushLocked()
		w.wmu.Unlock()
	case w.wmu.TryLock():
		if w.wbox != nil || w.back != nil {
			w.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
			w.corked = false // the writer's next write finds the socket closed
			w.flushLocked()
		}
		w.wmu.Unlock()
	}
	return w.Conn.Close()
}

// setAbort makes a later Close close at once: a close that cuts off a
// peer that does not read must not wait for its writes.
func (w *Wire) setAbort() { w.abort.Store(true) }

// setTry puts the Wire in try mode (see Wire) when its socket allows a
// write that does not block; it reports whether it did. max bounds the
// backlog writes outside a cork may leave (control frames to a peer that
// does not read); kick starts the writer that sends a backlog.
func (w *Wire) setTry(max int64, kick func()) bool {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.raw == nil {
		return false
	}
	w.backMax, w.kick = max, kick
	w.try.Store(true)
	return true
}

// stopTry ends try mode: every later write blocks, after the backlog. The
// close frame goes out so, since no writer may run to send a backlog then.
func (w *Wire) stopTry() {
	w.wmu.Lock()
	w.tryCork = false
	w.try.Store(false)
	w.wmu.Unlock()
}

// backlog is the number of bytes accepted but not yet written.
func (w *Wire) backlog() int64 { return w.backN.Load() }

// errBacklogFull ends a write outside a cork to a peer that lets more than
// backMax bytes wait.
var errBacklogFull = errors.New("not reading")

// tryLocked writes p without blocking, behind the backlog, keeping what the
// socket does not take.
func (w *Wire) tryLocked(p []byte) error {
	if w.backN.Load() == 0 {
		n, err := w.writeNow(p)
		if err != nil {
			return err
		}
		if n < len(p) {
			w.deferred.Add(1)
			w.appendBackLocked(p[n:])
		}
		return nil
	}
	if n := w.backN.Load() + int64(len(p)); n > w.backMax {
		return fmt.Errorf("%w: more than %d bytes wait to be sent", errBacklogFull, w.backMax)
	}
	w.appendBackLocked(p)
	return w.tryBackLocked()
}

// tryBackLocked writes what the socket takes at once of the backlog.
func (w *Wire) tryBackLocked() error {
	if w.back == nil {
		return nil
	}
	n, err := w.writeNow(*w.back)
	if err != nil {
		return err
	}
	if n < len(*w.back) {
		w.deferred.Add(1)
	}
	w.consumeBackLocked(n)
	return nil
}

// flushBackLocked writes the whole backlog, blocking.
func (w *Wire) flushBackLocked() error {
	if w.back == nil {
		return nil
	}
	n, err := w.Conn.Write(*w.back)
	if err != nil {
		n = len(*w.back) // the socket is broken: drop the rest
	}
	w.consumeBackLocked(n)
	return err
}

func (w *Wire) appendBackLocked(p []byte) {
	if len(p) == 0 {
		return
	}
	if w.back == nil {
		w.back = batchPool.Get().(*[]byte)
	}
	*w.back = append(*w.back, p...)
	w.backN.Store(int64(len(*w.back)))
}

// consumeBackLocked drops the first n bytes of the backlog, written; an
// emptied backlog gives its buffer back.
func (w *Wire) consumeBackLocked(n int) {
	if w.back == nil || n <= 0 {
		return
	}
	b := *w.back
	rest := copy(b, b[n:])
	*w.back = b[:rest]
	w.backN.Store(int64(rest))
	if rest == 0 {
		if cap(b) <= maxBatch {
			batchPool.Put(w.back)
		}
		w.back = nil
	}
}
