package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/internal/testutil"
)

// logBuffer is a buffer safe for the logger and the test to share.
type logBuffer = testutil.Buffer

// startServe runs `cifbridge serve` in-process and returns the widget URL
// from its startup log line, read as the logger writes it (no polling).
func startServe(t *testing.T, args ...string) (url string, logs *logBuffer, stop func() error) {
	t.Helper()
	logs = &logBuffer{}
	w := &urlWatch{logs: logs, url: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json"}, args...), io.Discard, w)
	}()
	select {
	case url = <-w.url:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited early: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("no widget URL logged within 10 s:\n%s", logs)
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = errors.New("serve did not stop within 20 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return url, logs, stop
}

// urlWatch keeps serve's log in logs and hands on the first widget URL
// it logs. zerolog writes one JSON line per Write.
type urlWatch struct {
	logs *logBuffer
	once sync.Once
	url  chan string
}

// The line is kept before the URL is handed on, so a test that reads the
// logs once it has the URL finds that line in them.
func (w *urlWatch) Write(p []byte) (int, error) {
	n, err := w.logs.Write(p)
	var line struct {
		Widget string `json:"widget"`
	}
	if json.Unmarshal(p, &line) == nil && line.Widget != "" {
		w.once.Do(func() { w.url <- line.Widget })
	}
	return n, err
}

// TestServeNewUser does what the README tells a newcomer: run the daemon on
// its defaults, connect a plain WebSocket, create and retrieve a contact.
// The frames are typed by hand as the README shows them (no bridge.hello),
// so the connection is raw, not client.Conn.
func TestServeNewUser(t *testing.T) {
	url, logs, stop := startServe(t)
	ws := testutil.DialRaw(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rpc := func(msg string) map[string]any {
		if err := ws.Write(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.Unmarshal(b, &out)
		if out["error"] != nil {
			t.Fatalf("%s → %s", msg, b)
		}
		return out["result"].(map[string]any)
	}
	created := rpc(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Ada","lastname":"Lovelace"}}}`)
	id, _ := created["id"].(string)
	got := rpc(`{"jsonrpc":"2.0","id":2,"method":"cif.retrieverecord","params":{"entityName":"contact","entityId":"` + id + `","queryParameters":"?$select=fullname"}}`)
	if got["fullname"] != "Ada Lovelace" {
		t.Fatalf("retrieved %v", got)
	}
	ws.Close("")
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	for _, want := range []string{`"message":"cifbridge serving on ws://127.0.0.1:`, `"message":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestServeTokenNeverLogged(t *testing.T) {
	_, logs, stop := startServe(t, "--token", "tok-DO-NOT-LOG")
	stop()
	if strings.Contains(logs.String(), "tok-DO-NOT-LOG") {
		t.Fatalf("token in logs:\n%s", logs)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantUsage bool   // exit status 2
		wantOut   string // in stdout+stderr
	}{
		{name: "help lists env names", args: []string{"serve", "--help"}, wantOut: "env CIFBRIDGE_CIF_TIMEOUT"},
		{name: "help shows defaults", args: []string{"serve", "--help"}, wantOut: "(default 127.0.0.1:8787)"},
		{name: "unknown flag", args: []string{"serve", "--nope"}, wantUsage: true, wantOut: "unknown flag --nope"},
		{name: "bad backend", args: []string{"serve", "--backend", "oracle", "--listen", "127.0.0.1:0"}, wantUsage: true},
		{name: "bad env value", args: []string{"serve"}, env: map[string]string{"CIFBRIDGE_CIF_TIMEOUT": "soon"}, wantUsage: true, wantOut: "CIFBRIDGE_CIF_TIMEOUT"},
		{name: "bad profile", args: []string{"serve", "--profile", "cif3", "--listen", "127.0.0.1:0"}, wantUsage: true, wantOut: "unknown --profile \"cif3\""},
		{name: "bad emulator bound", args: []string{"serve", "--emulator-max-records", "0", "--listen", "127.0.0.1:0"}, wantUsage: true, wantOut: "--emulator-max-records must be a positive count"},
		{name: "negative gc floor", args: []string{"serve", "--gc-heap-floor", "-1", "--listen", "127.0.0.1:0"}, wantUsage: true, wantOut: "--gc-heap-floor must be 0 (off) or a size in bytes"},
		{name: "bad gc floor env", args: []string{"serve"}, env: map[string]string{"CIFBRIDGE_GC_HEAP_FLOOR": "64MiB"}, wantUsage: true, wantOut: "CIFBRIDGE_GC_HEAP_FLOOR"},
		{name: "unknown command", args: []string{"frobnicate"}, wantUsage: true, wantOut: "unknown command"},
		{name: "version", args: []string{"version"}, wantOut: "cifbridge dev"},
		{name: "healthcheck fails without a daemon", args: []string{"healthcheck", "--listen", "127.0.0.1:1"}, wantOut: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			err := run(context.Background(), append(tt.args, "--data-dir", t.TempDir())[:len(tt.args)+dataDirArgs(tt.args)], &out, &out)
			var ue usageError
			if got := errors.As(err, &ue); got != tt.wantUsage {
				t.Errorf("usage error = %v (err %v), want %v", got, err, tt.wantUsage)
			}
			all := out.String()
			if err != nil {
				all += err.Error()
			}
			if !strings.Contains(all, tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, all)
			}
			if tt.name == "healthcheck fails without a daemon" && err == nil {
				t.Error("healthcheck succeeded with nothing listening")
			}
		})
	}
}

// dataDirArgs adds --data-dir only for serve, so no test writes into the
// working directory.
func dataDirArgs(args []string) int {
	if len(args) > 0 && args[0] == "serve" {
		return 2
	}
	return 0
}

func TestHealthcheckAgainstDaemon(t *testing.T) {
	url, _, _ := startServe(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/v1/widget")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--listen", addr}, &out, &out); err != nil || !strings.Contains(out.String(), "ready") {
		t.Fatalf("healthcheck: %v %s", err, out.String())
	}
}
