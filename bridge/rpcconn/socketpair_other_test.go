//go:build !unix

package rpcconn

import (
	"net"
	"testing"
)

// socketPair is a connected loopback TCP pair where there are no Unix
// socket pairs.
func socketPair(t *testing.T) (server, client net.Conn) { return tcpPair(t) }
