package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// chaosWindow is the daemon's --late-window in the chaos test: short, so
// that "no entry suspected past its window" is checked many times over.
const chaosWindow = 1500 * time.Millisecond

// TestChaos runs randomized fault profiles, creates under load, SIGKILLs and
// restarts against the real binary on one --data-dir and --capture-dir, and
// asserts what the bridge promises across all of it:
//   - no ledger entry a widget was told about (a ledgerId in an answer), and
//     no operator acknowledgement, is ever lost;
//   - no entry stays suspected past its late window (a restart settles
//     what a killed run left);
//   - duplicate recall is 100 % with zero false confirmations: every
//     create that made two records (the emulator's ground truth) has a
//     confirmed entry listing them, and every confirmed entry has them;
//   - every capture line is whole JSON.
//
// CIFBRIDGE_CHAOS_SEED reproduces a run (the seed is logged).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CIFBRIDGE_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("chaos seed %d (CIFBRIDGE_CHAOS_SEED reproduces it)", seed)
	rng := rand.New(rand.NewPCG(seed, 13))

	bin := buildRetryBinary(t)
	dir := t.TempDir()
	data, captures := filepath.Join(dir, "data"), filepath.Join(dir, "captures")
	told := map[string]bool{}                  // ledger ids some widget got
	acked := map[string]bool{}                 // entries an operator acknowledged
	var falseConfirmed, missed, duplicates int // over the settled phases

	const rounds = 4
	for round := range rounds {
		faults := tempFile(t, "faults.json", string(chaosFaults(rng)))
		d := startRetryDaemon(t, bin, "--data-dir", data, "--capture-dir", captures, "--cif-timeout", "200ms",
			"--late-window", chaosWindow.String(), "--emulator-faults", faults)
		// After every restart: nothing told or acknowledged is lost, and
		// nothing a killed run left is suspected past its window.
		checkLedger(t, d, told, acked)

		// Settled phase: creates under faults, then every late answer.
		results := chaosCreates(d.widget, fmt.Sprintf("r%d", round), 24, rng, nil)
		for _, r := range results {
			if r.ledgerID != "" {
				told[r.ledgerID] = true
			}
		}
		settle(t, d, results)
		records := emulatorLastnames(t, d)
		for _, r := range results {
			n := records[r.marker]
			var e protocol.LedgerEntry
			if r.ledgerID != "" {
				d.getJSON(t, "/api/v1/ledger/"+r.ledgerID, &e)
			}
			switch {
			case n >= 2:
				duplicates++
				if e.Status != protocol.LedgerConfirmed || len(e.RecordIDs) != n {
					missed++
					t.Errorf("round %d: %s made %d records, ledger entry %q is %s with %d records", round, r.marker, n, r.ledgerID, e.Status, len(e.RecordIDs))
				}
			case e.Status == protocol.LedgerConfirmed:
				falseConfirmed++
				t.Errorf("round %d: %s made %d records, yet entry %s is confirmed: %+v", round, r.marker, n, r.ledgerID, e)
			}
		}
		// An operator acknowledges an entry; it must stay acknowledged.
		for _, r := range results {
			if r.ledgerID != "" && !acked[r.ledgerID] {
				ack(t, d, r.ledgerID)
				acked[r.ledgerID] = true
				break
			}
		}

		// Killed phase: a burst of creates, SIGKILL while they are in flight.
		var mu sync.Mutex
		done := make(chan struct{})
		burst := rand.New(rand.NewPCG(rng.Uint64(), 1))
		go func() {
			defer close(done)
			chaosCreates(d.widget, fmt.Sprintf("k%d", round), 16, burst, func(r chaosResult) {
				if r.ledgerID != "" {
					mu.Lock()
					told[r.ledgerID] = true
					mu.Unlock()
				}
			})
		}()
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		d.kill()
		<-done
	}

	// The last start: once a window has passed, nothing is suspected.
	d := startRetryDaemon(t, bin, "--data-dir", data, "--late-window", chaosWindow.String())
	checkLedger(t, d, told, acked)
	time.Sleep(chaosWindow + 1500*time.Millisecond)
	var list struct{ Entries []protocol.LedgerEntry }
	if d.getJSON(t, "/api/v1/ledger?status=suspected", &list); len(list.Entries) != 0 {
		t.Errorf("%d entries still suspected a window after the last restart: %+v", len(list.Entries), list.Entries)
	}
	checkCaptures(t, captures)
	t.Logf("%d rounds: %d ledger entries told, %d duplicates made (recall %d/%d, %d false confirmations)",
		rounds, len(told), duplicates, duplicates-missed, duplicates, falseConfirmed)
	if duplicates == 0 {
		t.Log("no duplicate this run: the fault profiles were mild (recall held vacuously)")
	}
}

// chaosFaults draws a fault profile for createrecord: latency around and
// past the 200 ms CIF timeout, some late injected errors, some drops.
func chaosFaults(rng *rand.Rand) []byte {
	p := map[string]any{"seed": rng.Int64N(1 << 30), "rules": []map[string]any{
		{"method": "createrecord", "ratio": 0.05 + rng.Float64()*0.1, "drop": true},
		{"method": "createrecord", "ratio": 0.05 + rng.Float64()*0.15, "latencyMs": 150 + rng.IntN(400),
			"error": map[string]any{"status": 503, "code": "0x80072321", "message": "Service unavailable (injected)"}},
		{"method": "createrecord", "ratio": 0.3 + rng.Float64()*0.4,
			"latency": map[string]any{"kind": "uniform", "minMs": 20, "maxMs": 300 + rng.IntN(500)}},
	}}
	b, _ := json.Marshal(p)
	return b
}

type chaosResult struct {
	marker   string // the record's lastname: one per logical create
	ledgerID string // from the answer (result or -32005 data)
	answered bool
}

// chaosCreates runs n enreach.xrm.createRecord calls concurrently, each on
// its own socket, and returns what each answer said. seen, when set, sees
// each result as it comes (the killed phase keeps what it got).
func chaosCreates(url, prefix string, n int, rng *rand.Rand, seen func(chaosResult)) []chaosResult {
	out := make([]chaosResult, n)
	var wg sync.WaitGroup
	for i := range n {
		idem := rng.IntN(4) == 0
		wg.Go(func() {
			r := chaosResult{marker: fmt.Sprintf("chaos-%s-%d", prefix, i)}
			params := fmt.Sprintf(`{"entityLogicalName":"contact","data":{"lastname":%q},"maxRetries":2,"delay":0,"idempotent":%v}`, r.marker, idem)
			res, rerr, err := chaosCall(url, protocol.MethodXrmCreateRecord, params)
			if err == nil {
				r.answered = true
				var ok protocol.XrmCreateResult
				var bad struct {
					LedgerID string `json:"ledgerId"`
				}
				if rerr == nil && json.Unmarshal(res, &ok) == nil {
					r.ledgerID = ok.LedgerID
				} else if rerr != nil && json.Unmarshal(rerr.Data, &bad) == nil {
					r.ledgerID = bad.LedgerID
				}
			}
			out[i] = r
			if seen != nil {
				seen(r)
			}
		})
	}
	wg.Wait()
	return out
}

// chaosCall is one call on a fresh socket; err is set when the daemon went
// away before answering.
func chaosCall(url, method, params string) (json.RawMessage, *protocol.Error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	var res json.RawMessage
	err = c.Call(ctx, method, json.RawMessage(params), &res)
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return nil, pe, nil
	}
	return res, nil, err
}

// settle waits until none of the results' entries is suspected any more
// (late answers landed or their window expired).
func settle(t *testing.T, d *retryDaemon, results []chaosResult) {
	t.Helper()
	deadline := time.Now().Add(chaosWindow + 5*time.Second)
	for _, r := range results {
		if r.ledgerID == "" {
			continue
		}
		for {
			var e protocol.LedgerEntry
			d.getJSON(t, "/api/v1/ledger/"+r.ledgerID, &e)
			if e.Status != protocol.LedgerSuspected {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("entry %s still suspected %v after its create: %+v", r.ledgerID, time.Since(e.Created), e)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// emulatorLastnames counts the emulator's contacts per lastname.
func emulatorLastnames(t *testing.T, d *retryDaemon) map[string]int {
	t.Helper()
	var page struct {
		Value []struct {
			Lastname string `json:"lastname"`
		} `json:"value"`
	}
	if code := d.getJSON(t, "/api/data/v9.2/contacts?$select=lastname", &page); code != http.StatusOK {
		t.Fatalf("emulator contacts: %d", code)
	}
	out := map[string]int{}
	for _, c := range page.Value {
		out[c.Lastname]++
	}
	return out
}

// checkLedger asserts that every entry told to a widget exists, that every
// acknowledged one still is, and that no entry is suspected past its
// window (a restart settles a killed run's entries before it serves).
func checkLedger(t *testing.T, d *retryDaemon, told, acked map[string]bool) {
	t.Helper()
	for id := range told {
		var e protocol.LedgerEntry
		if code := d.getJSON(t, "/api/v1/ledger/"+id, &e); code != http.StatusOK || e.ID != id {
			t.Errorf("ledger entry %s, told to a widget, is lost (%d)", id, code)
		}
		if acked[id] && e.Status != protocol.LedgerAcknowledged && e.Status != protocol.LedgerConfirmed {
			t.Errorf("acknowledged entry %s is %s now", id, e.Status)
		}
	}
	var list struct{ Entries []protocol.LedgerEntry }
	d.getJSON(t, "/api/v1/ledger?status=suspected&limit=1000", &list)
	for _, e := range list.Entries {
		if age := time.Since(e.Created); age > chaosWindow+2*time.Second {
			t.Errorf("entry %s suspected %v after its create, past its %v window: %+v", e.ID, age, chaosWindow, e)
		}
	}
}

func ack(t *testing.T, d *retryDaemon, id string) {
	t.Helper()
	resp, err := http.Post(d.base+"/api/v1/ledger/"+id+"/acknowledge", "application/json", strings.NewReader(`{"note":"chaos"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("acknowledge %s: %d", id, resp.StatusCode)
	}
}

// checkCaptures asserts that every line of every capture file is whole
// JSON and that each file ends with a newline.
func checkCaptures(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		t.Fatal("no capture files")
	}
	lines := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends in a torn line", filepath.Base(f))
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for n := 1; sc.Scan(); n++ {
			lines++
			if !json.Valid(sc.Bytes()) {
				t.Errorf("%s:%d is not whole JSON: %.120s", filepath.Base(f), n, sc.Text())
			}
		}
	}
	t.Logf("%d capture files, %d lines, all whole", len(files), lines)
}
