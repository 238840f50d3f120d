package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// probePerf says whether `perf stat -e instructions` counts on this machine:
// "supported", or why not (no perf binary, no PMU in the VM, paranoid
// setting, …), as the suite reports it.
func probePerf() string {
	path, err := exec.LookPath("perf")
	if err != nil {
		return "no perf binary (Debian: apt-get install linux-perf)"
	}
	out, err := exec.Command(path, "stat", "-x", ",", "-e", "instructions", "true").CombinedOutput()
	if err != nil {
		return "perf stat failed: " + firstLine(out)
	}
	if _, ok := parsePerfInstructions(out); !ok {
		if bytes.Contains(out, []byte("<not supported>")) {
			return "perf stat -e instructions says <not supported>: no hardware performance counters on this machine (a VM without a virtual PMU)"
		}
		return "perf stat -e instructions counted nothing: " + firstLine(out)
	}
	return "supported"
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// parsePerfInstructions reads the instructions count from `perf stat -x ,`
// output ("123456,,instructions,…"; "<not supported>,,instructions" when
// the counter is missing).
func parsePerfInstructions(out []byte) (float64, bool) {
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || !strings.HasPrefix(f[2], "instructions") {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		return v, err == nil
	}
	return 0, false
}

// perfCounter is a `perf stat` attached to a server process.
type perfCounter struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startPerf(ctx context.Context, pid int) *perfCounter {
	p := &perfCounter{cmd: exec.CommandContext(ctx, "perf", "stat", "-x", ",", "-e", "instructions", "-p", strconv.Itoa(pid))}
	p.cmd.Stderr = &p.out
	if p.cmd.Start() != nil {
		return nil
	}
	return p
}

// stop ends the count (perf prints on SIGINT) and returns it, 0 when unknown.
func (p *perfCounter) stop() float64 {
	stopProcess(p.cmd, syscall.SIGINT)
	v, _ := parsePerfInstructions(p.out.Bytes())
	return v
}

// printReadmeTable reads a --json file and prints the README's table.
func printReadmeTable(file string, w io.Writer) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--readme-table: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("--readme-table: %s is not the JSON of `go run ./bench --json FILE`: %w", file, err)
	}
	if len(r.Runs) == 0 {
		return fmt.Errorf("--readme-table: %s has no runs (written by an older bench? run `go run ./bench --json FILE` again)", file)
	}
	// The table comes from the raw repetitions, not from a summary that
	// could have been edited by hand.
	r.Reps = len(r.Runs)
	r.Summary = summarize(r.Runs)
	_, err = io.WriteString(w, readmeTable(&r))
	return err
}
