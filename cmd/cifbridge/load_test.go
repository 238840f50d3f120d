package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/loadtest"
	"github.com/cifbridge/cifbridge/protocol"
)

// loadBridge starts a real bridge with the emulator on loopback and returns
// its widget URL.
func loadBridge(t *testing.T, timeout time.Duration) string {
	t.Helper()
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bridge.New(bridge.Config{
		Backend: emu, Timeout: timeout, LateWindow: 30 * time.Second,
		Extra: map[string]http.Handler{"/api/v1/emulator/": emu.AdminHandler()},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + protocol.PathWidget
}

// runLoadJSON runs cifbridge load with args and returns the JSON report.
func runLoadJSON(t *testing.T, args ...string) loadtest.Report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, append([]string{"load", "--json", out}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("load: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	t.Logf("\n%s", &stdout)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadtest.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestLoadCountsMatchEmulator(t *testing.T) {
	url := loadBridge(t, 0)
	html := filepath.Join(t.TempDir(), "report.html")
	rep := runLoadJSON(t, "--url", url, "--sessions", "4", "--closed", "--inflight", "2",
		"--duration", "700ms", "--warmup", "200ms", "--html", html,
		"--mix", "createrecord=5,retrieverecord=3,updaterecord=2,deleterecord=1,search=1,getenvironment=1,getmode=1,setwidth=1")
	g := rep.GroundTruth
	if g == nil {
		t.Fatal("no ground truth in the report")
	}
	if rep.Answered == 0 || rep.Errors != 0 || rep.Unanswered != 0 || rep.SendErrors != 0 {
		t.Fatalf("answered %d, errors %d (%v), unanswered %d, send errors %d", rep.Answered, rep.Errors, rep.ErrorsByCode, rep.Unanswered, rep.SendErrors)
	}
	for method, c := range rep.Totals {
		if got, want := g.Operations[protocol.MessageType(method)], c.OK; got != want {
			t.Errorf("%s: emulator executed %d operations, the report counts %d successful answers", method, got, want)
		}
		if c.Sent != c.Answered {
			t.Errorf("%s: sent %d, answered %d", method, c.Sent, c.Answered)
		}
	}
	if len(g.Operations) != len(rep.Totals) {
		t.Errorf("emulator operations %v, report methods %d", g.Operations, len(rep.Totals))
	}
	if g.ExtraRecords != 0 || rep.Duplicates.Confirmed != 0 || rep.Timeouts != 0 {
		t.Errorf("extra records %d, confirmed %d, timeouts %d: want 0", g.ExtraRecords, rep.Duplicates.Confirmed, rep.Timeouts)
	}
	if rep.LatencyUs.Count != rep.Answered || rep.LatencyUs.P50 <= 0 || rep.LatencyUs.P99 < rep.LatencyUs.P50 {
		t.Errorf("latency %+v for %d answers", rep.LatencyUs, rep.Answered)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg"); n != 2 {
		t.Errorf("HTML report has %d plots, want 2", n)
	}
	for _, ref := range []string{"<script", " src=", " href=", "@import"} {
		if strings.Contains(string(page), ref) {
			t.Errorf("HTML report references %q: it must be self-contained", ref)
		}
	}
}

// A tenth of the creates take 300 ms against a 150 ms CIF timeout: every
// timeout the client sees is a late completion in the emulator, and every
// such create left a record nobody got an id for.
func TestLoadTimeoutsMatchGroundTruth(t *testing.T) {
	url := loadBridge(t, 150*time.Millisecond)
	faults := filepath.Join(t.TempDir(), "faults.json")
	if err := os.WriteFile(faults, []byte(`{"seed":7,"rules":[{"method":"createrecord","latencyMs":300,"ratio":0.1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runLoadJSON(t, "--url", url, "--sessions", "4", "--rate", "300", "--duration", "1s",
		"--mix", "createrecord=4,retrieverecord=1", "--faults", faults, "--late-wait", "5s")
	g := rep.GroundTruth
	if g == nil {
		t.Fatal("no ground truth in the report")
	}
	var timeouts int64
	for _, c := range rep.Totals {
		timeouts += c.Timeouts
	}
	if timeouts == 0 {
		t.Fatal("no timeouts: the fault profile did not apply")
	}
	if timeouts != g.LateCompletions {
		t.Errorf("report timeouts %d, emulator late completions %d", timeouts, g.LateCompletions)
	}
	if rep.Late.Answers != timeouts || rep.Late.CreateSuccess != timeouts {
		t.Errorf("late answers %+v, want %d successful creates", rep.Late, timeouts)
	}
	if rep.Duplicates.Confirmed != g.ExtraRecords {
		t.Errorf("confirmed duplicates %d, emulator extra records %d", rep.Duplicates.Confirmed, g.ExtraRecords)
	}
	if !g.LateMatches || !g.ExtraMatchesConfirmed {
		t.Errorf("report says late matches %v, extra matches %v", g.LateMatches, g.ExtraMatchesConfirmed)
	}
	if errs := rep.ErrorsByCode; len(errs) != 1 || errs["-32000"] != rep.Timeouts {
		t.Errorf("errors by code %v, want only -32000 × %d", errs, rep.Timeouts)
	}
}

func TestLoadBadInput(t *testing.T) {
	url := loadBridge(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ws://" + ln.Addr().String() + protocol.PathWidget
	ln.Close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "rate 0", args: []string{"--url", url, "--rate", "0"}, want: "--rate must be greater than 0"},
		{name: "no rate", args: []string{"--url", url}, want: "--rate must be greater than 0"},
		{name: "unknown method", args: []string{"--url", url, "--rate", "10", "--mix", "createrecord=1,frobnicate=2"}, want: `unknown method "frobnicate"`},
		{name: "bad weight", args: []string{"--url", url, "--rate", "10", "--mix", "createrecord=x"}, want: "weight of createrecord"},
		{name: "unreachable", args: []string{"--url", closed, "--rate", "10", "--duration", "1s"}, want: "cannot reach"},
		{name: "remote host", args: []string{"--url", "ws://192.0.2.1:8787/v1/widget", "--rate", "10"}, want: "not loopback"},
		{name: "not a websocket URL", args: []string{"--url", "http://127.0.0.1:1/v1/widget", "--rate", "10"}, want: "ws:// or wss://"},
		{name: "both models", args: []string{"--url", url, "--rate", "10", "--closed"}, want: "not both"},
		{name: "missing faults file", args: []string{"--url", url, "--rate", "10", "--faults", "/nonexistent/faults.json"}, want: "--faults"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"load"}, tc.args...), &stdout, &stderr)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
