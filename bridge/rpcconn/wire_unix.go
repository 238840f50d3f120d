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
func rawOf(conn net.Conn) rawReader {
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
