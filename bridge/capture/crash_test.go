//go:build unix

package capture_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/capture"
)

const crashDirEnv = "CIFBRIDGE_CAPTURE_CRASH_DIR"

// TestCrashChild is the child of TestCrashKill: it writes frames until it is
// killed. It does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashKill")
	}
	c, err := capture.New(capture.Config{Dir: dir, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	s := c.Open("crash", "cif1", 0)
	big := strings.Repeat("x", 256<<10) // big lines make a torn last line possible
	for i := 0; ; i++ {
		pad := ""
		if i%16 == 3 {
			pad = big
		}
		s.Frame("widget", "in", fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"n","params":{"seq":%d,"pad":%q}}`, i, pad))
		if i == 200 {
			fmt.Println("ready")
		}
	}
}

// TestCrashKill SIGKILLs a process that is writing a capture and reads the
// file back: every complete frame is there, in order, and a torn last line
// is skipped.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q, %v", line, err)
		}
		time.Sleep(time.Duration(5+round*7) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = cmd.Wait()

		paths := files(t, dir)
		if len(paths) != 1 {
			t.Fatalf("files = %v", paths)
		}
		r := openReader(t, paths[0])
		frames, err := r.Rest()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for n, f := range frames {
			var m struct {
				Params struct{ Seq int } `json:"params"`
			}
			if err := json.Unmarshal(f.Msg, &m); err != nil || m.Params.Seq != n {
				t.Fatalf("round %d: frame %d has seq %d (%v)", round, n, m.Params.Seq, err)
			}
		}
		n := len(frames)
		if n <= 200 {
			t.Fatalf("round %d: only %d frames survived, the child had written more than 200", round, n)
		}
		if r.Header().Session != "crash" {
			t.Errorf("header = %+v", r.Header())
		}
		t.Logf("round %d: %d complete frames, torn last line: %v", round, n, r.Torn())
	}
}
