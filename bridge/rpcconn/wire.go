package rpcconn

import (
	"net"
	"sync"
)

// Wire is the socket under a WebSocket hijacked through GuardFrames. It
// holds no buffer while the connection is idle:
//
//   - reads wait for the socket to be readable without a buffer (on a
//     plain socket, see waitRead) and then read into one lent by readPool,
//     given back once the WebSocket has taken every byte of it;
//   - writes go straight to the socket, except between cork and uncork,
//     when the writer has several messages queued: they are gathered in a
//     buffer lent by batchPool and go out in one write.
//
// It also scans the frame headers it reads (frameScan): a message that a
// header announces as too big is refused at once.
type Wire struct {
	net.Conn
	raw  rawReader // nil when the socket cannot wait without a buffer
	pre  []byte    // read by the HTTP server before the hijack
	scan frameScan
	err  error // sticky once a frame is refused

	rbox *[]byte // the read buffer lent while unread bytes wait in it
	rbuf []byte  // those bytes

	// waitRead's: the func handed to raw.Read, and what its read returned.
	rawRead func(fd uintptr) bool
	rn      int
	rerr    error

	wmu    sync.Mutex // orders every write to the socket
	corked bool
	wbox   *[]byte // the batch being gathered, while corked
}

// rawReader is the part of syscall.RawConn waitRead needs.
type rawReader interface {
	Read(f func(fd uintptr) (done bool)) error
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
	w := &Wire{Conn: conn, pre: pre, scan: frameScan{limit: limit, need: 2}}
	w.raw = rawOf(conn)
	return w
}

// Read reads what the peer sent, scanning frame headers as they pass.
func (w *Wire) Read(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
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
		if len(p) >= readBufferSize {
			return w.Conn.Read(p) // a large read in the middle of a message
		}
		if err := w.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, w.rbuf)
	w.rbuf = w.rbuf[n:]
	if len(w.rbuf) == 0 {
		readPool.Put(w.rbox)
		w.rbox, w.rbuf = nil, nil
	}
	return n, nil
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

// cork gathers the writes that follow into one batch, until uncork.
func (w *Wire) cork() {
	w.wmu.Lock()
	w.corked = true
	w.wmu.Unlock()
}

// uncork writes the batch gathered since cork.
func (w *Wire) uncork() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.corked = false
	return w.flushLocked()
}

func (w *Wire) flushLocked() error {
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

// Write writes p, or adds it to the batch while corked.
func (w *Wire) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if !w.corked {
		return w.Conn.Write(p)
	}
	if w.wbox != nil && len(*w.wbox)+len(p) > maxBatch {
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
