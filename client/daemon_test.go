package client_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/retry"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/internal/pipenet"
)

// daemon is a real bridge (emulator backend, optionally the retry engine
// and a ledger) for the client to talk to: on loopback, or on
// in-memory pipes inside a synctest bubble, where the 10 s CIF timeout
// passes instantly and exactly.
type daemon struct {
	srv   *bridge.Server
	emu   *emulator.Emulator
	url   string          // ws://…/v1/widget
	opts  *client.Options // dials this daemon (HTTPClient set in a bubble)
	admin *client.Admin
	conns *connList

	mu     sync.Mutex
	frames []string // every frame the bridge saw, "peer dir msg"
}

type daemonConfig struct {
	faults *emulator.FaultProfile
	ledger bool // wire the retry engine and a ledger (enreach.xrm.*)
	bubble bool // in-memory pipes (call inside synctest.Test)
	token  string
}

func startDaemon(t *testing.T, dc daemonConfig) *daemon {
	t.Helper()
	emu, err := emulator.New(emulator.Config{Faults: dc.faults})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{emu: emu, conns: &connList{}}
	cfg := bridge.Config{Backend: emu, Token: dc.token, OnSessionEnd: emu.ForgetSession, Extra: map[string]http.Handler{"/api/v1/emulator/": emu.AdminHandler()},
		OnFrame: func(_, peer, dir string, msg []byte) {
			d.mu.Lock()
			d.frames = append(d.frames, peer+" "+dir+" "+string(msg))
			d.mu.Unlock()
		}}
	var l *ledger.Ledger
	if dc.ledger {
		if l, err = ledger.Open(filepath.Join(t.TempDir(), ledger.FileName)); err != nil {
			t.Fatal(err)
		}
		h := ledger.Handler(l, zerolog.Nop())
		cfg.Extra[ledger.PathList], cfg.Extra[ledger.PathOne] = h, h
	}
	if d.srv, err = bridge.New(cfg); err != nil {
		t.Fatal(err)
	}
	if l != nil {
		eng, err := retry.New(retry.Config{Bridge: d.srv, Ledger: l})
		if err != nil {
			t.Fatal(err)
		}
		eng.Register(d.srv)
	}
	hs := &http.Server{Handler: d.srv.Handler()}
	var ln net.Listener
	var hc *http.Client
	if dc.bubble {
		pl := pipenet.Listen()
		ln, hc = pl, pl.Client()
		t.Cleanup(hc.CloseIdleConnections)
	} else {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ln = &trackingListener{Listener: ln, conns: d.conns}
	go hs.Serve(ln)
	base := "http://" + ln.Addr().String()
	d.url = "ws" + strings.TrimPrefix(base, "http") + "/v1/widget"
	d.opts = &client.Options{HTTPClient: hc}
	d.admin = &client.Admin{Base: base, Token: dc.token, HTTPClient: hc}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.srv.Shutdown(ctx)
		hs.Close()
		d.conns.cut()
		if l != nil {
			l.Close()
		}
	})
	return d
}

// sawFrame reports whether the bridge saw a frame containing all of parts.
func (d *daemon) sawFrame(parts ...string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
next:
	for _, f := range d.frames {
		for _, p := range parts {
			if !strings.Contains(f, p) {
				continue next
			}
		}
		return true
	}
	return false
}

// connList is every connection the daemon accepted; cut drops them all, as
// a network failure would.
type connList struct {
	mu sync.Mutex
	l  []net.Conn
}

func (c *connList) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.l {
		nc.Close()
	}
	c.l = nil
}

type trackingListener struct {
	net.Listener
	conns *connList
}

func (l *trackingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err == nil {
		l.conns.mu.Lock()
		l.conns.l = append(l.conns.l, nc)
		l.conns.mu.Unlock()
	}
	return nc, err
}
