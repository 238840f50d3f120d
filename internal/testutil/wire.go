package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/internal/pipenet"
	"github.com/cifbridge/cifbridge/protocol"
)

// Server is a bridge as ServeBridge runs it (bridge.Server): an HTTP
// handler with a graceful shutdown.
type Server interface {
	Handler() http.Handler
	Shutdown(ctx context.Context) error
}

// ShutdownTimeout bounds how long ServeBridge's cleanup waits for the
// shutdown.
const ShutdownTimeout = 5 * time.Second

// ServeBridge runs srv on a loopback HTTP server for the rest of the test
// and returns its base URL with the ws scheme ("ws://127.0.0.1:port").
// When the test ends srv is shut down (at most ShutdownTimeout), then the
// server closed.
func ServeBridge(t testing.TB, srv Server) string {
	t.Helper()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// DialRaw opens a client.RawConn to url with opts (nil for the defaults),
// fails the test when the handshake does not succeed within 10 s, and
// closes the connection when the test ends. Tests dial raw where they must
// see or send frames exactly (hand-made ids, a second bridge.hello, no
// hello at all); the others use client.Dial.
func DialRaw(t testing.TB, url string, opts *client.Options) *client.RawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialRaw(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// Answer is what a test reads of a message from the bridge (the answer to
// a raw call, an event, a notification): the JSON-RPC fields, and the
// message as it came (Raw, set by RawCall).
type Answer struct {
	protocol.Inbound
	Raw []byte `json:"-"`
}

// RawCall sends one request with id on c and returns the answer to it,
// passing over notifications, requests and other answers. It fails when
// the write or a read does (ctx ended, the peer went away).
func RawCall(ctx context.Context, c *client.RawConn, id json.RawMessage, method string, params json.RawMessage) (Answer, error) {
	if err := c.Write(ctx, protocol.AppendRequest(nil, id, method, params)); err != nil {
		return Answer{}, fmt.Errorf("write: %w", err)
	}
	for {
		b, err := c.Read(ctx)
		if err != nil {
			return Answer{}, fmt.Errorf("read: %w", err)
		}
		var a Answer
		if json.Unmarshal(b, &a) == nil && a.Method == "" && string(a.ID) == string(id) {
			a.Raw = b
			return a, nil
		}
	}
}

// ServePipe serves h on an in-memory pipenet listener for the rest of the
// test and returns the listener (its fixed address names the server:
// "http://"+ln.Addr().String()) and an HTTP client that dials it. Call it
// inside the synctest bubble that uses it: the 10 s and 100 s waits of the
// daemon then pass instantly and exactly. When the test ends the server,
// the listener and the client's idle connections are closed.
func ServePipe(t testing.TB, h http.Handler) (*pipenet.Listener, *http.Client) {
	t.Helper()
	ln := pipenet.Listen()
	hs := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() { defer close(served); hs.Serve(ln) }()
	hc := ln.Client()
	t.Cleanup(func() {
		hs.Close()
		ln.Close()
		<-served
		hc.CloseIdleConnections()
	})
	return ln, hc
}
