package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// singleDash finds a flag written with one dash (-cif-timeout).
var singleDash = regexp.MustCompile(`(^|\s)-[a-z]`)

// cli runs the command line as main does and returns its exit status and
// what it wrote to stdout and stderr.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	// A command that takes bad input for good would serve (or load) until
	// its context ends: bound it, so such a bug fails the test, not hangs it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, args, &out, &errOut)
	code = report(&errOut, args, err)
	return code, out.String(), errOut.String()
}

// Every subcommand's --help goes to stdout (so `serve --help | grep` works),
// exits 0 and documents the subcommand's own environment names.
func TestHelpToStdout(t *testing.T) {
	for _, tt := range []struct {
		cmd     string
		wantEnv []string // in the help
		notEnv  string   // a name this subcommand must not document
	}{
		{"serve", []string{"env CIFBRIDGE_CIF_TIMEOUT", "env CIFBRIDGE_MAX_INFLIGHT", "CIFBRIDGE_<FLAG>"}, "CIFBRIDGE_LOAD_"},
		{"load", []string{"env CIFBRIDGE_LOAD_URL", "env CIFBRIDGE_LOAD_MAX_INFLIGHT", "env CIFBRIDGE_LOAD_RATE (default 50)", "CIFBRIDGE_LOAD_<FLAG>"}, "env CIFBRIDGE_MAX_INFLIGHT"},
		{"replay", []string{"env CIFBRIDGE_REPLAY_URL", "env CIFBRIDGE_REPLAY_FAULTS", "Exit status: 0 all matched"}, "env CIFBRIDGE_URL"},
		{"healthcheck", []string{"env CIFBRIDGE_LISTEN", "env CIFBRIDGE_HEALTHCHECK_TIMEOUT"}, "env CIFBRIDGE_TIMEOUT"},
	} {
		for _, help := range []string{"--help", "-h"} {
			t.Run(tt.cmd+help, func(t *testing.T) {
				code, stdout, stderr := cli(t, tt.cmd, help)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
				}
				if !strings.HasPrefix(stdout, "Usage: cifbridge "+tt.cmd) {
					t.Errorf("stdout does not start with the usage:\n%s", stdout)
				}
				for _, w := range tt.wantEnv {
					if !strings.Contains(stdout, w) {
						t.Errorf("help lacks %q", w)
					}
				}
				if strings.Contains(stdout, tt.notEnv) {
					t.Errorf("help mentions %q, another subcommand's name", tt.notEnv)
				}
				if singleDash.MatchString(stdout) {
					t.Errorf("help shows a single-dash flag:\n%s", stdout)
				}
			})
		}
	}
	code, stdout, _ := cli(t, "--help")
	if code != 0 || !strings.Contains(stdout, "Commands:") {
		t.Errorf("cifbridge --help: exit %d\n%s", code, stdout)
	}
	// "cifbridge help serve" is serve's help, as with go help build.
	for _, cmd := range []string{"serve", "load", "replay", "healthcheck", "version"} {
		code, stdout, stderr := cli(t, "help", cmd)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "Usage: cifbridge "+cmd) {
			t.Errorf("cifbridge help %s: exit %d, stderr %q, stdout:\n%s", cmd, code, stderr, stdout)
		}
	}
}

// notJSON is a file that is not JSON, for flags that read one.
func notJSON(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "not.json")
	if err := os.WriteFile(p, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad input exits 2 with one error naming the flag with -- and showing a
// valid value, then one line saying where the usage is: never the whole
// usage.
func TestBadInputExits2WithOneHint(t *testing.T) {
	aFile := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	schema := notJSON(t)
	// noDir cannot be created (its parent is a file), so a serve that
	// let a bad value through fails there with exit 1 instead of serving.
	noDir := filepath.Join(schema, "data")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want []string // in stderr
	}{
		{"serve bad duration", []string{"serve", "--cif-timeout", "soon"}, nil,
			[]string{`cifbridge serve: --cif-timeout "soon" is not a valid duration`, "--cif-timeout 10s"}},
		{"serve unknown flag", []string{"serve", "-nope"}, nil, []string{"unknown flag --nope"}},
		{"serve missing value", []string{"serve", "--max-inflight"}, nil, []string{"--max-inflight needs a value, e.g. --max-inflight 64"}},
		{"serve bad env", []string{"serve"}, map[string]string{"CIFBRIDGE_MAX_INFLIGHT": "many"},
			[]string{`CIFBRIDGE_MAX_INFLIGHT="many" (--max-inflight) is not a valid integer`, "CIFBRIDGE_MAX_INFLIGHT=64"}},
		{"serve bad bool", []string{"serve", "--idempotent-creates=maybe"}, nil, []string{"--idempotent-creates", "--idempotent-creates=false"}},
		{"serve negative timeout", []string{"serve", "--cif-timeout", "-1s", "--data-dir", "/nonexistent/x"}, nil, []string{"--cif-timeout 10s"}},
		{"serve retention below the late window", []string{"serve", "--ledger-retention", "1m", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, nil,
			[]string{"--ledger-retention must be 0 (keep everything) or at least --late-window", "--ledger-retention 720h"}},
		{"serve bad listen", []string{"serve", "--listen", "8787"}, nil, []string{`--listen "8787" is not HOST:PORT`, "--listen 127.0.0.1:8787"}},
		{"serve capture dir is a file", []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--capture-dir", aFile}, nil,
			[]string{"--capture-dir " + aFile + ":", "not a directory", "--capture-dir captures"}},
		{"serve bad capture pattern", []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--capture-dir", t.TempDir(), "--capture-sessions", "s-*,["}, nil,
			[]string{`--capture-sessions pattern "["`, "--capture-sessions 's-*,incident-*'"}},
		{"load bad rate", []string{"load", "--rate", "fast"}, nil, []string{`--rate "fast" is not a valid number`, "--rate 50"}},
		{"load zero rate", []string{"load", "--rate", "0"}, nil, []string{"--rate must be more than 0", "--rate 50"}},
		{"load env is its own", []string{"load", "--url", "ws://127.0.0.1:1/v1/widget"}, map[string]string{"CIFBRIDGE_LOAD_SESSIONS": "0"},
			[]string{"--sessions must be at least 1"}},
		{"load ignores serve's names", []string{"load", "--rate", "0"}, map[string]string{"CIFBRIDGE_MAX_INFLIGHT": "bogus", "CIFBRIDGE_URL": "bogus"},
			[]string{"cifbridge load: --rate must be more than 0"}},
		{"load bad env", []string{"load"}, map[string]string{"CIFBRIDGE_LOAD_DURATION": "long"}, []string{"CIFBRIDGE_LOAD_DURATION", "CIFBRIDGE_LOAD_DURATION=10s"}},
		{"replay bad scheme", []string{"replay", "--url", "http://127.0.0.1:8787/v1/widget", "x.jsonl"}, nil,
			[]string{"must start with ws:// or wss://", "--url ws://127.0.0.1:8787/v1/widget"}},
		{"replay no host", []string{"replay", "--url", "ws:///v1/widget", "x.jsonl"}, nil, []string{"has no host"}},
		{"replay bad speed", []string{"replay", "--embedded", "--speed", "-1", "x.jsonl"}, nil, []string{"--speed must be 0 or more"}},
		{"replay bad env", []string{"replay", "--embedded", "x.jsonl"}, map[string]string{"CIFBRIDGE_REPLAY_SPEED": "quick"}, []string{"CIFBRIDGE_REPLAY_SPEED"}},
		{"healthcheck bad timeout", []string{"healthcheck", "--timeout", "x"}, nil, []string{"--timeout 3s"}},
		// Values bridge.Config or loadtest.Config would take for "the
		// default", and values that fail only later or never match: refused
		// up front, naming the flag.
		{"serve port out of range", []string{"serve", "--listen", "127.0.0.1:99999", "--data-dir", noDir}, nil, []string{`--listen "127.0.0.1:99999" is not HOST:PORT`, "--listen 127.0.0.1:8787"}},
		{"serve negative in-flight", []string{"serve", "--max-inflight", "-3", "--data-dir", noDir}, nil, []string{"--max-inflight must be at least 1", "--max-inflight 64"}},
		{"serve tiny message limit", []string{"serve", "--max-message-bytes", "10", "--data-dir", noDir}, nil, []string{"--max-message-bytes must be at least 1024", "--max-message-bytes 1048576"}},
		{"serve zero drain", []string{"serve", "--drain-timeout", "0", "--data-dir", noDir}, nil, []string{"--drain-timeout must be positive", "--drain-timeout 10s"}},
		{"serve zero late window", []string{"serve", "--late-window", "0", "--data-dir", noDir}, nil, []string{"--late-window must be positive", "--late-window 10m"}},
		{"serve negative resume window", []string{"serve", "--resume-window", "-1m", "--data-dir", noDir}, nil, []string{"--resume-window must be positive", "--resume-window 2m"}},
		{"serve bad origin pattern", []string{"serve", "--allowed-origins", "https://ok.example,[", "--data-dir", noDir}, nil, []string{`--allowed-origins: pattern "[" is malformed`}},
		{"serve bad host pattern", []string{"serve", "--allowed-hosts", "[a-", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, nil, []string{`--allowed-hosts: pattern "[a-" is malformed`}},
		{"serve bad schema file", []string{"serve", "--emulator-schema", schema, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, nil, []string{"--emulator-schema " + schema, "schema:"}},
		{"healthcheck bad listen", []string{"healthcheck", "--listen", "nope"}, nil, []string{`--listen "nope" is not HOST:PORT`}},
		{"load zero duration", []string{"load", "--duration", "0"}, nil, []string{"--duration must be positive", "--duration 10s"}},
		{"load zero in-flight", []string{"load", "--closed", "--inflight", "0"}, nil, []string{"--inflight must be at least 1"}},
		{"load zero late wait", []string{"load", "--late-wait", "0s"}, nil, []string{"--late-wait must be positive"}},
		{"load report in a missing directory", []string{"load", "--json", "/nonexistent/dir/report.json"}, nil, []string{"--json /nonexistent/dir/report.json", "does not exist"}},
		{"version unknown flag", []string{"version", "--json"}, nil, []string{"unknown flag --json"}},
		{"version argument", []string{"version", "extra"}, nil, []string{`unexpected argument "extra"`}},
		{"help of an unknown command", []string{"help", "frobnicate"}, nil, []string{`unknown command "frobnicate"`}},
		{"unknown command", []string{"frobnicate"}, nil, []string{`unknown command "frobnicate"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := cli(t, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstderr: %s", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q; want nothing", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			hint := lines[len(lines)-1]
			if len(lines) > 3 || !strings.HasPrefix(hint, "run 'cifbridge") || !strings.HasSuffix(hint, "--help' for usage") && !strings.HasSuffix(hint, "for the commands") {
				t.Errorf("want the error and one usage hint, got %d lines:\n%s", len(lines), stderr)
			}
			if strings.Contains(stderr, "Usage:") || singleDash.MatchString(stderr) {
				t.Errorf("stderr prints the usage or a single-dash flag:\n%s", stderr)
			}
		})
	}
}

// A failure that is not bad input exits 1 without a usage hint.
func TestFailureExits1(t *testing.T) {
	code, _, stderr := cli(t, "healthcheck", "--listen", "127.0.0.1:1", "--timeout", "1s")
	if code != 1 || strings.Contains(stderr, "--help") {
		t.Fatalf("exit %d, stderr %q; want 1 without a usage hint", code, stderr)
	}
}

// load's --closed without --rate does not trip over the default rate.
func TestLoadClosedWithoutRate(t *testing.T) {
	var f loadFlags
	fs := newFlagSet("load", "", &bytes.Buffer{})
	f.register(fs)
	if _, err := parseFlags(fs, []string{"--closed"}); err != nil {
		t.Fatal(err)
	}
	if f.rate != defaultLoadRate {
		t.Fatalf("default rate %v, want %v", f.rate, defaultLoadRate)
	}
	code, _, stderr := cli(t, "load", "--closed", "--url", "http://127.0.0.1:1/v1/widget")
	if code != 2 || strings.Contains(stderr, "not both") || !strings.Contains(stderr, "ws://") {
		t.Fatalf("exit %d: %s; want only the URL complaint", code, stderr)
	}
	code, _, stderr = cli(t, "load", "--closed", "--rate", "10", "--url", "ws://127.0.0.1:1/v1/widget")
	if code != 2 || !strings.Contains(stderr, "not both") {
		t.Fatalf("exit %d: %s; want --rate with --closed refused", code, stderr)
	}
}
