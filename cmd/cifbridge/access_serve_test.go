package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The daemon refuses to serve open roles beyond loopback unless the operator
// opts in, says so in the log, and /api/v1/status repeats the choice.
func TestServeOpenRolesBeyondLoopback(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir(), "--log-format", "json"}, io.Discard, &out)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "not loopback") || !strings.Contains(err.Error(), "--allow-unauthenticated") ||
		!strings.Contains(err.Error(), "CIFBRIDGE_ADMIN_TOKEN") {
		t.Fatalf("open start on 0.0.0.0: %v", err)
	}
	// A widget token alone still leaves /api/ open: refused too.
	t.Setenv("CIFBRIDGE_WIDGET_TOKEN", "w")
	err = run(context.Background(), []string{"serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "host, admin") {
		t.Fatalf("widget token only: %v", err)
	}

	url, logs, _ := startServe(t, "--listen", "0.0.0.0:0", "--allow-unauthenticated")
	if !strings.Contains(logs.String(), "--allow-unauthenticated") || !strings.Contains(logs.String(), `"openRoles":["host","admin"]`) {
		t.Fatalf("the opt-in is not in the log:\n%s", logs)
	}
	base := "http://127.0.0.1:" + url[strings.LastIndex(url, ":")+1:strings.LastIndex(url, "/v1/")]
	resp, err := http.Get(base + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Security struct {
			OpenRoles            []string
			AllowUnauthenticated bool
		}
	}
	json.NewDecoder(resp.Body).Decode(&st)
	if !st.Security.AllowUnauthenticated || strings.Join(st.Security.OpenRoles, ",") != "host,admin" {
		t.Fatalf("status security: %+v", st.Security)
	}
}

// Tokens come from flags, the environment or files (--token-file included);
// each role's token opens its own endpoint only, and none is logged.
func TestServeRoleTokensFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	url, logs, stop := startServe(t, "--listen", "0.0.0.0:0",
		"--widget-token-file", write("w", "widget-SECRET-1"),
		"--token-file", write("a", "admin-SECRET-2"))
	port := url[strings.LastIndex(url, ":")+1 : strings.LastIndex(url, "/v1/")]
	base := "http://127.0.0.1:" + port
	get := func(path, tok string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	dial := func(path, tok string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, "ws://127.0.0.1:"+port+path+"?access_token="+tok, nil)
		if err == nil {
			ws.CloseNow()
			return 101
		}
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	for _, c := range []struct {
		what string
		got  int
		want int
	}{
		{"widget token on /v1/widget", dial("/v1/widget", "widget-SECRET-1"), 101},
		{"widget token on /v1/host", dial("/v1/host", "widget-SECRET-1"), 401},
		{"widget token on /api/", get("/api/v1/status", "widget-SECRET-1"), 401},
		{"widget token on /metrics", get("/metrics", "widget-SECRET-1"), 401},
		{"admin token (--token-file) on /api/", get("/api/v1/status", "admin-SECRET-2"), 200},
		{"admin token on /v1/host", dial("/v1/host", "admin-SECRET-2"), 101},
		{"no token on /readyz", get("/readyz", ""), 200},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	stop()
	for _, secret := range []string{"widget-SECRET-1", "admin-SECRET-2"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("%s logged:\n%s", secret, logs)
		}
	}
	// Two different values for the admin token are refused.
	err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--token", "x", "--admin-token", "y"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not two different values") {
		t.Fatalf("--token x --admin-token y: %v", err)
	}
}
