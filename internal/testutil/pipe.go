package testutil

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// PipeListener serves HTTP over in-memory pipes (net.Pipe), so that a whole
// bridge, its clients and their timers can run inside a testing/synctest
// bubble, where a CIF timeout of 10 s passes at once and exactly: a pipe
// blocks durably, a socket does not. It works outside a bubble too.
type PipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// NewPipeListener returns a listener; Client dials it.
func NewPipeListener() *PipeListener {
	return &PipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *PipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *PipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8787} }

// Dial connects to the listener, whatever the address.
func (l *PipeListener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.ch <- b:
		return a, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Client is an HTTP client whose every connection is a pipe to l (any URL
// host reaches it, e.g. http://bridge.test/). Close its idle connections
// when done: CloseIdleConnections on its Transport.
func (l *PipeListener) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: l.Dial}}
}
