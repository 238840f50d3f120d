package main

import (
	"testing"
	"time"
)

// A rule with latency past the CIF timeout plus an error: every such
// operation answers late with a failure, the bridge sends bridge.late for
// it, and the emulator counts it as a late completion, so the ground truth
// agrees (it said 276 late completions against 312 late answers when the
// emulator left late injected errors out).
func TestLoadMixedFaultsMatchGroundTruth(t *testing.T) {
	// A timeout far from both the fault latency and a loaded machine's
	// scheduling delays: each operation is clearly on time or clearly late.
	url := loadBridge(t, time.Second)
	faults := tempFile(t, "faults.json", `{"seed":11,"rules":[`+
		`{"method":"createrecord","latencyMs":2000,"ratio":0.15,"error":{"status":503,"code":"0x80072321","message":"Service unavailable (injected)"}},`+
		`{"method":"createrecord","latencyMs":2000,"ratio":0.1}]}`)
	rep := runLoadJSON(t, "--url", url, "--sessions", "4", "--rate", "150", "--duration", "1s",
		"--mix", "createrecord=4,retrieverecord=1", "--faults", faults, "--late-wait", "8s")
	g := rep.GroundTruth
	if g == nil {
		t.Fatal("no ground truth in the report")
	}
	if rep.Late.Failure == 0 || rep.Late.Success == 0 {
		t.Fatalf("late %+v: want late failures and late successes", rep.Late)
	}
	if rep.Late.Answers != g.LateCompletions || !g.LateMatches {
		t.Errorf("late answers %d (%+v), emulator late completions %d, late matches %v",
			rep.Late.Answers, rep.Late, g.LateCompletions, g.LateMatches)
	}
	if rep.Duplicates.Confirmed != g.ExtraRecords || !g.ExtraMatchesConfirmed {
		t.Errorf("confirmed duplicates %d, emulator extra records %d", rep.Duplicates.Confirmed, g.ExtraRecords)
	}
}
