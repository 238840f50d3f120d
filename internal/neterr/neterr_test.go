package neterr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/cifbridge/cifbridge/internal/neterr"
)

func TestInnermost(t *testing.T) {
	inner := errors.New("connect: connection refused")
	err := fmt.Errorf("send: %w", &url.Error{Op: "Post", URL: "https://org.example/api?secret=1", Err: inner})
	if got := neterr.Innermost(err); got != "connect: connection refused" {
		t.Fatalf("got %q", got)
	}
	if got := neterr.Innermost(inner); got != inner.Error() {
		t.Fatalf("unwrapped error: got %q", got)
	}
}

func TestIsTimeout(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("do: %w", context.DeadlineExceeded), true},
		{"net timeout", &net.OpError{Op: "dial", Err: &net.DNSError{IsTimeout: true}}, true},
		{"refused", errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		if got := neterr.IsTimeout(tt.err); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A real refused connection and a real broken one, on loopback.
func TestDialFailed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, refused := net.Dial("tcp", addr)
	if refused == nil || !neterr.DialFailed(fmt.Errorf("post: %w", &url.Error{Op: "Post", URL: "http://" + addr, Err: refused})) {
		t.Fatalf("refused dial %v: DialFailed false", refused)
	}
	if neterr.DialFailed(errors.New("read: connection reset by peer")) || neterr.DialFailed(&net.OpError{Op: "read", Err: errors.New("reset")}) {
		t.Fatal("a broken read counted as a failed dial")
	}
	if !neterr.DialFailed(&net.DNSError{Err: "no such host", Name: "org.invalid"}) {
		t.Fatal("a failed name lookup is a failed dial")
	}
}
