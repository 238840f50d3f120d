package replay_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/replay"
)

func replayFile(t *testing.T, path, mode string) *replay.SessionReport {
	t.Helper()
	caps, err := replay.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := replay.StartEmbedded(caps[0].Header, mode, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rep, err := replay.Run(context.Background(), caps[0], &replay.Options{URL: e.URL, Mode: mode,
		Rules: replay.Rules{LatencyTolerance: 100 * time.Millisecond}, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReplayGoldens replays every committed golden on a fresh embedded
// bridge: everything must match.
func TestReplayGoldens(t *testing.T) {
	for _, tt := range []struct{ name, mode string }{
		{"normal", replay.ModeWidget},
		{"incident", replay.ModeFull},
		{"events", replay.ModeWidget},
		{"postmessage", replay.ModeWidget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := replayFile(t, golden(tt.name+".jsonl"), tt.mode)
			if !rep.OK() || rep.Matched == 0 {
				t.Fatalf("replay diverged:\n%s", text(rep))
			}
		})
	}
}

// TestReplayAltered changes one captured field: the replay must diverge and
// name the frame (file:line) and the path.
func TestReplayAltered(t *testing.T) {
	b, err := os.ReadFile(golden("normal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	n := -1
	for i, l := range lines {
		if strings.Contains(l, `"dir":"out"`) && strings.Contains(l, `"firstname":"Ada"`) && strings.Contains(l, `"peer":"widget"`) {
			lines[i] = strings.Replace(l, `"firstname":"Ada"`, `"firstname":"Grace"`, 1)
			n = i + 1
			break
		}
	}
	if n < 0 {
		t.Fatal("golden has no retrieve answer to alter")
	}
	path := filepath.Join(t.TempDir(), "altered.jsonl")
	os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
	rep := replayFile(t, path, replay.ModeWidget)
	if rep.OK() || len(rep.Diverged) != 1 {
		t.Fatalf("want one divergence:\n%s", text(rep))
	}
	d := rep.Diverged[0]
	if want := path + ":" + itoa(n); d.Frame != want || len(d.Diffs) != 1 || d.Diffs[0].Path != "result.firstname" {
		t.Fatalf("divergence = %+v, want frame %s path result.firstname", d, want)
	}
	if s := text(rep); !strings.Contains(s, `result.firstname: want "Grace", got "Ada"`) {
		t.Errorf("report:\n%s", s)
	}
}
