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
