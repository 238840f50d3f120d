package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/coder/websocket"
)

func TestLimitFlagsRefuseBadValues(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--max-send-bytes", "10"}, "--max-send-bytes must be at least 1024"},
		{[]string{"--max-call-rate", "-1"}, "--max-call-rate must be 0 (no limit) or positive"},
		{[]string{"--max-conns-per-ip", "0"}, "-1 (no limit)"},
		{[]string{"--ping-interval", "20s", "--idle-timeout", "30s"}, "at least twice --ping-interval"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			refuseServe(t, tt.want, tt.args...)
		})
	}
}

// TestServeAppliesLimits: the limit flags and their CIFBRIDGE_* variables
// reach the daemon: a second connection from the same IP is refused 503
// and a call past the rate gets -32003.
func TestServeAppliesLimits(t *testing.T) {
	t.Setenv("CIFBRIDGE_MAX_CALL_RATE", "0.5")
	url, _, _ := startServe(t, "--max-conns-per-ip", "1", "--call-burst", "1")
	ws := testutil.DialRaw(t, url, nil) // raw: no bridge.hello, so the burst of 1 is the first getmode's
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection: %v %v, want 503", err, resp)
	}
	var answers []string
	for i := range 2 {
		ws.Write(ctx, []byte(`{"jsonrpc":"2.0","id":`+string(rune('1'+i))+`,"method":"cif.getmode"}`))
		b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, string(b))
	}
	if !strings.Contains(answers[0], `"result"`) || !strings.Contains(answers[1], `"code":-32003`) || !strings.Contains(answers[1], "retryAfterMs") {
		t.Fatalf("answers %q: want a result, then -32003 with retryAfterMs", answers)
	}
}
