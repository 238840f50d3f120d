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
	var box *[]byte
	var n int
	var rerr error
	err := w.raw.Read(func(fd uintptr) bool {
		box = readPool.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *box)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			readPool.Put(box)
			return false // not readable yet: wait, without the buffer
		}
		return true
	})
	switch {
	case err != nil: // closed under the read, or a deadline
		return err
	case rerr != nil:
		readPool.Put(box)
		return &net.OpError{Op: "read", Net: w.LocalAddr().Network(), Source: w.LocalAddr(), Addr: w.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	case n <= 0:
		readPool.Put(box)
		return io.EOF
	}
	w.rbox, w.rbuf = box, (*box)[:n]
	return nil
}
