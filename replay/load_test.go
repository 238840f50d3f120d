package replay_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/replay"
)

// splitGolden writes the golden capture name into dir as a session rotated
// by the daemon (bridge/capture): <stem>.jsonl with the header and the first
// frames, then <stem>-0001.jsonl, <stem>-0002.jsonl, each with the header
// again ("part": 1, 2) and its share of the frames. It returns the paths,
// part 0 first, and the number of frames.
func splitGolden(t *testing.T, name, dir string) ([]string, int) {
	t.Helper()
	b, err := os.ReadFile(golden(name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	header, frames := lines[0], lines[1:]
	if len(frames) < 6 {
		t.Fatalf("%s has %d frames; want at least 6 to split", name, len(frames))
	}
	stem := filepath.Join(dir, strings.TrimSuffix(name, ".jsonl")+"-20261124T213431Z")
	third := len(frames) / 3
	chunks := [][]string{frames[:third], frames[third : 2*third], frames[2*third:]}
	var paths []string
	for part, chunk := range chunks {
		path, h := stem+".jsonl", header
		if part > 0 {
			path = fmt.Sprintf("%s-%04d.jsonl", stem, part)
			h = strings.TrimSuffix(header, "}") + fmt.Sprintf(`,"part":%d}`, part)
		}
		if err := os.WriteFile(path, []byte(h+"\n"+strings.Join(chunk, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths, len(frames)
}

// TestLoadRotatedCapture: a session the daemon rotated is replayed whole
// whether the user names every part (capdir/*.jsonl) or only its first file
// (the one `<session>-<started>.jsonl` the README names), and a part given
// without the parts before it is bad input naming what is missing, never a
// replay of half a session that reports its other half as extra.
func TestLoadRotatedCapture(t *testing.T) {
	whole, err := replay.Load(golden("normal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, frames := splitGolden(t, "normal.jsonl", dir)
	if len(whole[0].Frames) != frames {
		t.Fatalf("the golden has %d frames, the split %d", len(whole[0].Frames), frames)
	}
	for _, tc := range []struct {
		name  string
		given []string
	}{
		{"every part", paths},
		{"every part, last first", []string{paths[2], paths[0], paths[1]}},
		{"the first file only", paths[:1]},
		{"the first file twice", []string{paths[0], paths[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caps, err := replay.Load(tc.given...)
			if err != nil {
				t.Fatal(err)
			}
			if len(caps) != 1 {
				t.Fatalf("got %d captures, want the one session", len(caps))
			}
			c := caps[0]
			if len(c.Frames) != frames || strings.Join(c.Files, " ") != strings.Join(paths, " ") {
				t.Fatalf("got %d frames from %v; want %d from %v", len(c.Frames), c.Files, frames, paths)
			}
			for i := range c.Frames {
				if string(c.Frames[i].Msg) != string(whole[0].Frames[i].Msg) {
					t.Fatalf("frame %d (%s) differs from the golden's", i, c.Frames[i].Where())
				}
			}
		})
	}

	t.Run("a later part without the first", func(t *testing.T) {
		_, err := replay.Load(paths[1])
		if !errors.Is(err, replay.ErrBadInput) || !strings.Contains(err.Error(), "part 0") ||
			!strings.Contains(err.Error(), filepath.Base(paths[0])) {
			t.Fatalf("err = %v; want bad input naming part 0 (%s)", err, filepath.Base(paths[0]))
		}
	})
	t.Run("one part in two files", func(t *testing.T) {
		b, err := os.ReadFile(paths[1])
		if err != nil {
			t.Fatal(err)
		}
		dup := filepath.Join(t.TempDir(), "copy.jsonl")
		if err := os.WriteFile(dup, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = replay.Load(paths[0], dup)
		if !errors.Is(err, replay.ErrBadInput) || !strings.Contains(err.Error(), "both part 1") {
			t.Fatalf("err = %v; want bad input saying both files are part 1", err)
		}
	})
	t.Run("a part missing in the middle", func(t *testing.T) {
		if err := os.Remove(paths[1]); err != nil {
			t.Fatal(err)
		}
		_, err := replay.Load(paths[0], paths[2])
		if !errors.Is(err, replay.ErrBadInput) || !strings.Contains(err.Error(), "part 1") ||
			!strings.Contains(err.Error(), filepath.Base(paths[1])) {
			t.Fatalf("err = %v; want bad input naming part 1 (%s)", err, filepath.Base(paths[1]))
		}
	})
}
