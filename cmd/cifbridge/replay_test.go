package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"normal.jsonl", "widget"}, {"events.jsonl", "widget"}, {"postmessage.jsonl", "widget"}, {"incident.jsonl", "full"},
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
