package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

func goldenPath(name string) string { return filepath.Join("..", "..", "replay", "testdata", name) }

func runReplayCmd(args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"replay"}, args...), &out, &errb)
	return out.String() + errb.String(), err
}

// TestReplayCommandGoldens: every golden replays on an embedded bridge with
// exit status 0; flags may follow the files.
func TestReplayCommandGoldens(t *testing.T) {
	for _, tt := range []struct{ file, mode string }{
		{"normal.jsonl", "widget"}, {"events.jsonl", "widget"}, {"postmessage.jsonl", "widget"}, {"incident.jsonl", "full"}, {"batch.jsonl", "widget"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			jsonOut := filepath.Join(t.TempDir(), "report.json")
			out, err := runReplayCmd(goldenPath(tt.file), "--embedded", "--mode", tt.mode, "--speed", "0", "--json", jsonOut)
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, out)
			}
			if !strings.Contains(out, "all matched") {
				t.Errorf("output:\n%s", out)
			}
			var rep struct {
				Sessions []struct{ Matched int } `json:"sessions"`
			}
			b, _ := os.ReadFile(jsonOut)
			if json.Unmarshal(b, &rep) != nil || len(rep.Sessions) != 1 || rep.Sessions[0].Matched == 0 {
				t.Errorf("--json report: %s", b)
			}
		})
	}
}

// TestReplayCommandIncidentLedger: the duplicate incident replays in full
// mode with a ledger wired in (kept with --ledger-dir); the text and --json
// reports show the ledger outcome, confirmed on both sides, and the kept
// ledger holds it.
func TestReplayCommandIncidentLedger(t *testing.T) {
	dir := t.TempDir()
	jsonOut := filepath.Join(dir, "report.json")
	out, err := runReplayCmd("--embedded", "--mode", "full", "--ledger-dir", filepath.Join(dir, "ledger"), "--json", jsonOut, goldenPath("incident.jsonl"))
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^  ledger   L[0-9a-f]{32} confirmed \[\S+ \S+\] → replay L[0-9a-f]{32} confirmed \[\S+ \S+\]: matched$`).MatchString(out) {
		t.Errorf("no ledger line in:\n%s", out)
	}
	var rep struct {
		Sessions []struct {
			LiveSession string `json:"liveSession"`
			Ledger      []struct {
				Captured struct{ Status string }  `json:"captured"`
				Replayed *struct{ Status string } `json:"replayed"`
				Matched  bool                     `json:"matched"`
			} `json:"ledger"`
		} `json:"sessions"`
	}
	b, _ := os.ReadFile(jsonOut)
	if json.Unmarshal(b, &rep) != nil || len(rep.Sessions) != 1 || len(rep.Sessions[0].Ledger) != 1 {
		t.Fatalf("--json report: %s", b)
	}
	l := rep.Sessions[0].Ledger[0]
	if !l.Matched || l.Captured.Status != "confirmed" || l.Replayed == nil || l.Replayed.Status != "confirmed" {
		t.Errorf("--json ledger outcome: %s", b)
	}
	led, err := ledger.Open(filepath.Join(dir, "ledger", "capture-1", ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	entries, err := led.List(context.Background(), ledger.Filter{})
	if err != nil || len(entries) != 1 || entries[0].Status != protocol.LedgerConfirmed || len(entries[0].RecordIDs) != 2 || entries[0].Session != rep.Sessions[0].LiveSession {
		t.Errorf("kept ledger: %+v %v", entries, err)
	}
}

// TestReplayCommandLedgerNeedsBridgeLedger: against a bridge without the
// ledger API (--url), a capture with ledger entries cannot match: the
// entry is reported missing with the reason.
func TestReplayCommandLedgerNeedsBridgeLedger(t *testing.T) {
	srv, err := bridge.New(bridge.Config{HostBackend: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	out, err := runReplayCmd("--url", testutil.ServeBridge(t, srv)+protocol.PathWidget, "--mode", "full", "--speed", "0", goldenPath("incident.jsonl"))
	if !errors.Is(err, errDiverged) {
		t.Fatalf("err = %v, want a divergence\n%s", err, out)
	}
	if !strings.Contains(out, "the bridge serves no /api/v1/ledger") {
		t.Errorf("output:\n%s", out)
	}
}

// TestReplayCommandDiverged: an altered capture exits 1 (not a usage error)
// with a diff naming the frame; --ignore of the altered path makes it pass.
func TestReplayCommandDiverged(t *testing.T) {
	b, err := os.ReadFile(goldenPath("events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(string(b), `"entityType":"phonecall"`) // the widget's answer, not the backend's
	altered := string(b[:i]) + `"entityType":"task"` + string(b[i+len(`"entityType":"phonecall"`):])
	if altered == string(b) {
		t.Fatal("nothing altered")
	}
	line := 0
	for i, l := range strings.Split(altered, "\n") {
		if strings.Contains(l, `"entityType":"task"`) {
			line = i + 1
		}
	}
	path := filepath.Join(t.TempDir(), "altered.jsonl")
	os.WriteFile(path, []byte(altered), 0o644)
	out, err := runReplayCmd("--embedded", "--speed", "0", path)
	var ue usageError
	if !errors.Is(err, errDiverged) || errors.As(err, &ue) {
		t.Fatalf("err = %v, want divergence (exit 1)\n%s", err, out)
	}
	if want := path + ":" + itoaCmd(line) + " answer to cif.createrecord"; !strings.Contains(out, want) || !strings.Contains(out, `result.entityType: want "task", got "phonecall"`) {
		t.Errorf("output lacks %q and the diff:\n%s", want, out)
	}
	if out, err := runReplayCmd("--embedded", "--speed", "0", "--ignore", "result.entityType", path); err != nil {
		t.Errorf("with --ignore: %v\n%s", err, out)
	}
	// The comma-separated form (how CIFBRIDGE_REPLAY_IGNORE lists several).
	if out, err := runReplayCmd("--embedded", "--speed", "0", "--ignore", "result.createdon,result.entityType", path); err != nil {
		t.Errorf("with --ignore result.createdon,result.entityType: %v\n%s", err, out)
	}
	// A path that names nothing is bad input, not "ignore every member":
	// before, --ignore "" (an empty variable in a script) made every
	// altered capture match.
	for _, bad := range []string{"", " ", "result.entityType,", "."} {
		out, err := runReplayCmd("--embedded", "--speed", "0", "--ignore", bad, path)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--ignore") {
			t.Errorf("--ignore %q: err = %v, want a usage error (exit 2) naming --ignore\n%s", bad, err, out)
		}
	}
}

func itoaCmd(n int) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must(b []byte, _ error) []byte { return b }

// TestReplayCommandBadInput: exit 2 with a message naming file and line.
func TestReplayCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	hdr := func(version int) string {
		return `{"format":"cifbridge-capture","version":` + itoaCmd(version) + `,"profile":"cif1","timeoutMs":10000,"started":"2025-05-01T12:00:00Z","session":"s-1"}` + "\n"
	}
	frame := `{"t":"2025-05-01T12:00:00.1Z","peer":"widget","dir":"in","msg":{"jsonrpc":"2.0","id":1,"method":"cif.getmode"}}` + "\n"
	for _, tt := range []struct{ name, content, want string }{
		{"unknown-version", hdr(0) + frame, "unknown-version.jsonl:1: bad capture line: unknown format version 0"},
		{"newer", hdr(2) + frame, "newer.jsonl:1: capture was written by a newer cifbridge"},
		{"not-json", hdr(1) + frame + "this is not json\n" + frame, "not-json.jsonl:3: bad capture line: not a JSON object"},
		{"msg-not-rpc", hdr(1) + `{"t":"2025-05-01T12:00:00.1Z","peer":"widget","dir":"in","msg":42}` + "\n", "msg-not-rpc.jsonl:2:"},
		{"empty", "", "empty.jsonl:1: not a cifbridge capture"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".jsonl")
			os.WriteFile(path, []byte(tt.content), 0o644)
			out, err := runReplayCmd("--embedded", path)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error (exit 2)\n%s", err, out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	for _, args := range [][]string{{}, {"x.jsonl"}, {"--embedded", "--url", "ws://x/v1/widget", "x.jsonl"}, {"--embedded", "--mode", "host", "x.jsonl"}, {"--embedded", filepath.Join(dir, "missing.jsonl")}} {
		_, err := runReplayCmd(args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}
