//go:build unix

package rpcconn

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// socketPair is a connected Unix socket pair: a plain socket, as TCP is to
// the Wire, that a fuzzer may make by the ten thousand without using up
// the loopback's ports.
func socketPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return conn(fds[0]), conn(fds[1])
}
