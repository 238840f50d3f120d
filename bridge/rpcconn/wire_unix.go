//go:build unix

package rpcconn

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawOf returns the raw socket of a plain TCP or Unix connection; nil for
// anything else (TLS, pipes), which is read with the buffer lent up front.
func rawOf(conn net.Conn) rawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// waitRead waits in the runtime's poller, holding no buffer, until the
// socket is readable, then reads into a lent buffer.
func (w *Wire) waitRead() error {
	if w.rawRead == nil { // once per connection: a closure per read allocates
		w.rawRead = w.readReady
	}
	err := w.raw.Read(w.rawRead)
	n, rerr := w.rn, w.rerr
	w.rerr = nil
	switch {
	case err != nil: // closed under the read, or a deadline
		return err
	case rerr != nil:
		return &net.OpError{Op: "read", Net: w.LocalAddr().Network(), Source: w.LocalAddr(), Addr: w.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	case n <= 0:
		return io.EOF
	}
	return nil
}

// readReady is waitRead's read of a socket the poller may find readable: it
// lends the buffer only when a read returns bytes.
func (w *Wire) readReady(fd uintptr) bool {
	box := readPool.Get().(*[]byte)
	var n int
	var err error
	for {
		n, err = syscall.Read(int(fd), *box)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EAGAIN {
		readPool.Put(box)
		return false // not readable yet: wait, without the buffer
	}
	w.rn, w.rerr = n, err
	if err != nil || n <= 0 {
		readPool.Put(box)
		return true
	}
	w.rbox, w.rbuf = box, (*box)[:n]
	return true
}

// writeNow writes what the socket takes of p at once, without waiting for
// it to be writable: a full socket takes 0 bytes.
func (w *Wire) writeNow(p []byte) (int, error) {
	if w.rawWrite == nil { // once per connection, as rawRead
		w.rawWrite = w.writeReady
	}
	w.wp = p
	err := w.raw.Write(w.rawWrite)
	n, werr := w.wn, w.werr
	w.wp, w.wn, w.werr = nil, 0, nil
	switch {
	case err != nil: // closed under the write
		return 0, err
	case werr == syscall.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, &net.OpError{Op: "write", Net: w.LocalAddr().Network(), Source: w.LocalAddr(), Addr: w.RemoteAddr(), Err: os.NewSyscallError("write", werr)}
	}
	return n, nil
}

// writeReady is writeNow's one write: it never asks the poller to wait.
func (w *Wire) writeReady(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), w.wp)
		if err == syscall.EINTR {
			continue
		}
		w.wn, w.werr = max(n, 0), err
		return true
	}
}
