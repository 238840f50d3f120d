package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/loadtest"
)

// TestReadmeTableFromFixture runs the README-table generator on a fixture
// of three repetitions and compares it with the table worked out by hand:
// medians with min and max, ratios taken within a repetition (the median
// ratio 0.56 is not the ratio of the medians, 0.60), skipped measurements
// and the perf note shown.
func TestReadmeTableFromFixture(t *testing.T) {
	var out bytes.Buffer
	if err := printReadmeTable("testdata/fixture.json", &out); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/fixture-table.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("table differs from testdata/fixture-table.md\n--- got\n%s\n--- want\n%s", got, want)
	}
}

func TestReadmeTableRejectsOtherJSON(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"empty.json": `{}`, "bad.json": `{"runs":`} {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		err := printReadmeTable(p, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "--json FILE") {
			t.Errorf("%s: error %v, want one that says to run `go run ./bench --json FILE`", name, err)
		}
	}
	if err := printReadmeTable(dir+"/missing.json", &bytes.Buffer{}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestStatOf(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want Stat
	}{
		{nil, Stat{}},
		{[]float64{5}, Stat{5, 5, 5, 1}},
		{[]float64{3, 1, 2}, Stat{2, 1, 3, 3}},
		{[]float64{4, 1, 3, 2}, Stat{2.5, 1, 4, 4}},
	} {
		if got := statOf(c.in); got != c.want {
			t.Errorf("statOf(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParsePerfInstructions(t *testing.T) {
	if v, ok := parsePerfInstructions([]byte("1234567,,instructions:u,1000,100.00,,\n")); !ok || v != 1234567 {
		t.Errorf("counted: got %v %v", v, ok)
	}
	if _, ok := parsePerfInstructions([]byte("<not supported>,,instructions,0,100.00,,\n")); ok {
		t.Error("<not supported> parsed as a count")
	}
}

// TestREADMETableIsTheSuiteOutput checks that the README's performance
// table is what the generator prints for the run kept in
// docs/bench-results.json, so nobody edits figures by hand: after a new
// `go run ./bench --json docs/bench-results.json`, paste
// `go run ./bench --readme-table docs/bench-results.json` between the
// README's bench-table markers.
func TestREADMETableIsTheSuiteOutput(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- bench-table:start -->\n", "<!-- bench-table:end -->"
	_, rest, ok := strings.Cut(string(readme), start)
	block, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("README.md has no %q … %q block", strings.TrimSpace(start), end)
	}
	var want bytes.Buffer
	if err := printReadmeTable("../docs/bench-results.json", &want); err != nil {
		t.Fatal(err)
	}
	if block != want.String() {
		t.Errorf("README's table is not `go run ./bench --readme-table docs/bench-results.json`:\n--- README\n%s\n--- generated\n%s", block, want.String())
	}
}

// The summary keeps the first error samples of the repetitions, at most
// maxFirstErrors, and prints them under the error count.
func TestSummaryShowsTheFirstErrors(t *testing.T) {
	sample := func(code int64, msg string) loadtest.ErrorSample {
		return loadtest.ErrorSample{Method: "cif.createrecord", Code: code, Message: msg, Phase: "measured", AtSeconds: 1.5}
	}
	var runs []Rep
	for range 3 {
		runs = append(runs, Rep{
			Points: []Point{{Sessions: 64, BridgeErrors: 2, BridgeFirstErrors: []loadtest.ErrorSample{
				sample(-32001, "backend unavailable"), sample(-32603, "internal error")}}},
			HalfRate: &HalfRate{Errors: 1, FirstErrors: []loadtest.ErrorSample{sample(-32000, "timeout")},
				ClientCPUPct: 80, ClientGCCycles: 31, EchoClientCPUPct: 85, EchoClientGCCycles: 26,
				BridgeCPUPer100k: 2.5, EchoCPUPer100k: 2},
		})
	}
	res := &Results{Runs: runs, Reps: 3, Summary: summarize(runs)}
	if n := len(res.Summary.ClosedLoop[0].BridgeFirstErrors); n != maxFirstErrors {
		t.Errorf("closed loop keeps %d samples of 6, want %d", n, maxFirstErrors)
	}
	if n := len(res.Summary.HalfRate.FirstErrors); n != 3 {
		t.Errorf("open loop keeps %d samples of 3, want 3", n)
	}
	var out bytes.Buffer
	res.print(&out)
	for _, want := range []string{
		"  bridge errors: 6\n    cif.createrecord -32001 \"backend unavailable\" (measured, +1.500s)\n    cif.createrecord -32603 \"internal error\"",
		"dropped sends 0\n    cif.createrecord -32000 \"timeout\" (measured, +1.500s)\n",
		"client (this process): % of a core bridge run 80, echo run 85; GC cycles bridge run 31, echo run 26\n",
		"server CPU-s per 100 000: bridge 2.50, echo 2.00, ratio 1.25\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
