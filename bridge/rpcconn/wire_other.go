//go:build !unix

package rpcconn

import "net"

// rawOf: outside Unix every connection is read with the buffer lent up
// front.
func rawOf(net.Conn) rawConn { return nil }

func (w *Wire) waitRead() error { panic("unreachable: rawOf returns nil") }

func (w *Wire) writeNow([]byte) (int, error) { panic("unreachable: rawOf returns nil") }
