// Package pipenet is an in-memory network for tests: a net.Listener whose
// connections are net.Pipe pairs, so that a whole daemon and its clients
// can run inside a testing/synctest bubble, where a 10 s or 100 s CIF
// timeout passes instantly and exactly.
//
// Entry points: Listen, (*Listener).Dial (an http.Transport DialContext),
// (*Listener).Client.
package pipenet

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// Listener hands out the server ends of the pipes Dial makes.
type Listener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// Listen returns a Listener. Create it inside the bubble that uses it.
func Listen() *Listener {
	return &Listener{ch: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for a Dial.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Dial fail; connections already made stay open.
func (l *Listener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

// Addr is a fixed loopback address: URLs name 127.0.0.1:8787.
func (l *Listener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8787} }

// Dial connects to the Listener whatever the address.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
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

// Client returns an HTTP client that dials the Listener; close its idle
// connections (CloseIdleConnections) when done.
func (l *Listener) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: l.Dial}}
}
