// Package cluster moves backend attempts between cifbridge nodes. A Router
// delivers the bytes of one call to whoever serves a named service and
// brings the answer back: Local does it inside one process, NATS does it
// by NATS request-reply across a cluster. Backend and ServeBackend adapt a
// bridge backend (backend.Backend) to a Router on either side, so the
// bridge's correlation table, CIF timeout and retry engine stay where they
// are: a Router only moves bytes.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Handler answers one call. ctx ends when the caller's budget for the call
// is spent (or the router stops). The reply is sent as is.
type Handler func(ctx context.Context, req []byte) []byte

// Router delivers calls to the node that serves a service.
type Router interface {
	// Serve makes h an answerer of service on this node until stop is
	// called. Several answerers of one service form a queue group: each
	// call reaches exactly one of them.
	Serve(service string, h Handler) (stop func(), err error)
	// Call returns the answer of one of service's answerers; ErrNoResponders
	// at once when nobody serves it, or ctx's error when ctx ends first.
	// ctx must carry a deadline: it is the answerer's budget too.
	Call(ctx context.Context, service string, req []byte) ([]byte, error)
	// ServeAll makes h an answerer of every Gather on service: unlike
	// Serve, each answerer gets each gather. h returning nil sends no
	// answer (the node has nothing to say).
	ServeAll(service string, h Handler) (stop func(), err error)
	// Gather sends req to every ServeAll answerer of service and returns
	// the answers that arrived before ctx ended, or as soon as want of them
	// did (want <= 0: wait for ctx). No answerer is no answers, not an
	// error.
	Gather(ctx context.Context, service string, req []byte, want int) ([][]byte, error)
	// Name says which kind of router this is, for logs: "local" or "nats".
	Name() string
}

// ErrNoResponders is Call's error when no node serves the service.
var ErrNoResponders = errors.New("no node serves this service")

// ErrNoDeadline is Call's error when ctx has no deadline.
var ErrNoDeadline = errors.New("cluster call without a deadline")

// MaxTokenLen bounds one token of a service name (a session id is 21).
const MaxTokenLen = 128

// CheckService reports whether service is a safe name: one or more tokens
// separated by '.', each of 1 to MaxTokenLen characters from [A-Za-z0-9_-].
// NATS wildcards ('*', '>'), whitespace and empty tokens are refused, so a
// session id can never widen a subscription or address another subject.
func CheckService(service string) error {
	if service == "" {
		return errors.New("empty service name")
	}
	n := 0
	for i := 0; i < len(service); i++ {
		c := service[i]
		switch {
		case c == '.':
			if n == 0 {
				return fmt.Errorf("service name %q has an empty token", service)
			}
			n = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return fmt.Errorf("service name %q has a character outside [A-Za-z0-9_-.] at byte %d", service, i)
		}
		n++
		if n > MaxTokenLen {
			return fmt.Errorf("service name %q has a token longer than %d characters", service, MaxTokenLen)
		}
	}
	if n == 0 {
		return fmt.Errorf("service name %q has an empty token", service)
	}
	return nil
}

// Local is the in-process Router: a map from service to its answerers and
// a direct call. It needs no network and no configuration.
type Local struct {
	mu   sync.Mutex
	subs map[string][]*localSub
	all  map[string][]*localSub // ServeAll's
}

type localSub struct{ h Handler }

// NewLocal returns an empty in-process router.
func NewLocal() *Local {
	return &Local{subs: map[string][]*localSub{}, all: map[string][]*localSub{}}
}

func (l *Local) Name() string { return "local" }

func (l *Local) Serve(service string, h Handler) (func(), error) { return l.serve(l.subs, service, h) }

func (l *Local) ServeAll(service string, h Handler) (func(), error) {
	return l.serve(l.all, service, h)
}

func (l *Local) serve(subs map[string][]*localSub, service string, h Handler) (func(), error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("nil handler")
	}
	sub := &localSub{h: h}
	l.mu.Lock()
	subs[service] = append(subs[service], sub)
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			list := subs[service]
			for i, s := range list {
				if s == sub {
					list = append(list[:i:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(subs, service)
			} else {
				subs[service] = list
			}
		})
	}, nil
}

func (l *Local) Call(ctx context.Context, service string, req []byte) ([]byte, error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		return nil, ErrNoDeadline
	}
	l.mu.Lock()
	list := l.subs[service]
	var h Handler
	if len(list) > 0 {
		h = list[rand.IntN(len(list))].h
	}
	l.mu.Unlock()
	if h == nil {
		return nil, ErrNoResponders
	}
	// The answerer gets its own copy, as it would over a network, and runs
	// in its own goroutine so that the caller returns when ctx ends.
	in := append([]byte(nil), req...)
	done := make(chan []byte, 1)
	go func() { done <- h(ctx, in) }()
	select {
	case out := <-done:
		return out, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Local) Gather(ctx context.Context, service string, req []byte, want int) ([][]byte, error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		return nil, ErrNoDeadline
	}
	l.mu.Lock()
	hs := make([]Handler, 0, len(l.all[service]))
	for _, s := range l.all[service] {
		hs = append(hs, s.h)
	}
	l.mu.Unlock()
	answers := make(chan []byte, len(hs))
	for _, h := range hs {
		in := append([]byte(nil), req...)
		go func() { answers <- h(ctx, in) }()
	}
	var out [][]byte
	for range hs {
		select {
		case a := <-answers:
			if a == nil {
				continue // no answer
			}
			out = append(out, a)
			if want > 0 && len(out) >= want {
				return out, nil
			}
		case <-ctx.Done():
			return out, nil
		}
	}
	return out, nil
}
