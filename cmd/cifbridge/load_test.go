package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/loadtest"
	"github.com/cifbridge/cifbridge/protocol"
)

// loadBridge starts a real bridge with the emulator on loopback and returns
// its widget URL.
func loadBridge(t *testing.T, timeout time.Duration) string {
	t.Helper()
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bridge.New(bridge.Config{
		Backend: emu, Timeout: timeout, LateWindow: 30 * time.Second,
		Extra: map[string]http.Handler{"/api/v1/emulator/": emu.AdminHandler()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return testutil.ServeBridge(t, srv) + protocol.PathWidget
}

// runLoadJSON runs cifbridge load with args and returns the JSON report.
func runLoadJSON(t *testing.T, args ...string) loadtest.Report {
	t.Helper()
	rep, _ := runLoadReport(t, args...)
	return rep
}

// runLoadReport runs cifbridge load with args and returns the JSON report,
// decoded and as written.
func runLoadReport(t *testing.T, args ...string) (loadtest.Report, []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, append([]string{"load", "--json", out}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("load: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	t.Logf("\n%s", &stdout)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadtest.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, b
}

func TestLoadCountsMatchEmulator(t *testing.T) {
	url := loadBridge(t, 0)
	html := filepath.Join(t.TempDir(), "report.html")
	rep := runLoadJSON(t, "--url", url, "--sessions", "4", "--closed", "--inflight", "2",
		"--duration", "700ms", "--warmup", "200ms", "--html", html,
		"--mix", "createrecord=5,retrieverecord=3,updaterecord=2,deleterecord=1,search=1,getenvironment=1,getmode=1,setwidth=1")
	g := rep.GroundTruth
	if g == nil {
		t.Fatal("no ground truth in the report")
	}
	// The only errors a fault-free run may see are the store's 404s: a
	// delete, update or retrieve of a record another in-flight call of the
	// session deleted, or any of them before the session's first create
	// (the load tool then sends a GUID no record has). Those reached the
	// store, so the emulator counts them as operations too.
	backendErr := int64(protocol.CodeBackend)
	if rep.Answered == 0 || rep.Errors != rep.ErrorsByCode[strconv.FormatInt(backendErr, 10)] || rep.Unanswered != 0 || rep.SendErrors != 0 {
		t.Fatalf("answered %d, errors %d (%v), unanswered %d, send errors %d", rep.Answered, rep.Errors, rep.ErrorsByCode, rep.Unanswered, rep.SendErrors)
	}
	for method, c := range rep.Totals {
		if got, want := g.Operations[protocol.MessageType(method)], c.OK+c.Errors[backendErr]; got != want {
			t.Errorf("%s: emulator executed %d operations, the report counts %d answers that reached it (%d ok, errors %v)", method, got, want, c.OK, c.Errors)
		}
		if c.Sent != c.Answered {
			t.Errorf("%s: sent %d, answered %d", method, c.Sent, c.Answered)
		}
	}
	if len(g.Operations) != len(rep.Totals) {
		t.Errorf("emulator operations %v, report methods %d", g.Operations, len(rep.Totals))
	}
	if g.ExtraRecords != 0 || rep.Duplicates.Confirmed != 0 || rep.Timeouts != 0 {
		t.Errorf("extra records %d, confirmed %d, timeouts %d: want 0", g.ExtraRecords, rep.Duplicates.Confirmed, rep.Timeouts)
	}
	if rep.LatencyUs.Count != rep.Answered || rep.LatencyUs.P50 <= 0 || rep.LatencyUs.P99 < rep.LatencyUs.P50 {
		t.Errorf("latency %+v for %d answers", rep.LatencyUs, rep.Answered)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg"); n != 2 {
		t.Errorf("HTML report has %d plots, want 2", n)
	}
	for _, ref := range []string{"<script", " src=", " href=", "@import"} {
		if strings.Contains(string(page), ref) {
			t.Errorf("HTML report references %q: it must be self-contained", ref)
		}
	}
}

// A tenth of the creates take 300 ms against a 150 ms CIF timeout: every
// timeout the client sees is a late completion in the emulator, and every
// such create left a record nobody got an id for.
func TestLoadTimeoutsMatchGroundTruth(t *testing.T) {
	url := loadBridge(t, 150*time.Millisecond)
	faults := tempFile(t, "faults.json", `{"seed":7,"rules":[{"method":"createrecord","latencyMs":300,"ratio":0.1}]}`)
	rep := runLoadJSON(t, "--url", url, "--sessions", "4", "--rate", "300", "--duration", "1s",
		"--mix", "createrecord=4,retrieverecord=1", "--faults", faults, "--late-wait", "5s")
	g := rep.GroundTruth
	if g == nil {
		t.Fatal("no ground truth in the report")
	}
	var timeouts int64
	for _, c := range rep.Totals {
		timeouts += c.Timeouts
	}
	if timeouts == 0 {
		t.Fatal("no timeouts: the fault profile did not apply")
	}
	if timeouts != g.LateCompletions {
		t.Errorf("report timeouts %d, emulator late completions %d", timeouts, g.LateCompletions)
	}
	// Every timeout gets its late answer, a success (no fault injects an
	// error). On a loaded machine a retrieve can outlast the timeout too,
	// so the creates among them are counted by method, not assumed.
	if rep.Late.Answers != timeouts || rep.Late.Success != timeouts || rep.Late.CreateSuccess != rep.Late.ByMethod[protocol.MethodCreateRecord] {
		t.Errorf("late answers %+v, want %d successes, creates counted as such", rep.Late, timeouts)
	}
	if rep.Duplicates.Confirmed != g.ExtraRecords {
		t.Errorf("confirmed duplicates %d, emulator extra records %d", rep.Duplicates.Confirmed, g.ExtraRecords)
	}
	if !g.LateMatches || !g.ExtraMatchesConfirmed {
		t.Errorf("report says late matches %v, extra matches %v", g.LateMatches, g.ExtraMatchesConfirmed)
	}
	if errs := rep.ErrorsByCode; len(errs) != 1 || errs["-32000"] != rep.Timeouts {
		t.Errorf("errors by code %v, want only -32000 × %d", errs, rep.Timeouts)
	}
}

// The retry engine's update and retrieve attempts that time out leave no
// ledger entry, and the widget's answer only says how many attempts it
// took: the load tool learns how many late answers to wait for from the
// bridge (lateAwaited and lateExpired of its sessions), so that every late
// completion in the emulator is a late answer in the report even when it
// lands after the last widget answer (here seconds after it: the engine
// retries after 1 s, the delayed attempts answer after 1.5-3 s).
func TestLoadXrmLateAnswersMatchGroundTruth(t *testing.T) {
	url, _, _ := startServe(t, "--cif-timeout", "300ms")
	const late = `"latency":{"kind":"uniform","minMs":1500,"maxMs":3000},"ratio":0.2`
	faults := tempFile(t, "faults.json", `{"seed":3,"rules":[{"method":"updaterecord",`+late+`},{"method":"retrieverecord",`+late+`}]}`)
	rep := runLoadJSON(t, "--url", url, "--sessions", "4", "--rate", "60", "--duration", "1500ms", "--seed-records", "5",
		"--mix", "xrm.updateRecord=3,xrm.retrieveRecord=2", "--faults", faults)
	g := rep.GroundTruth
	if g == nil {
		t.Fatal("no ground truth in the report")
	}
	if rep.Truncated || rep.Unanswered != 0 || rep.SendErrors != 0 || rep.Unmatched != 0 || rep.BadFrames != 0 {
		t.Errorf("truncated %v, unanswered %d, send errors %d, unmatched %d, bad frames %d",
			rep.Truncated, rep.Unanswered, rep.SendErrors, rep.Unmatched, rep.BadFrames)
	}
	if rep.Late.Retried == 0 || g.LateCompletions == 0 {
		t.Fatalf("late %+v, emulator late completions %d: the fault profile did not apply", rep.Late, g.LateCompletions)
	}
	// Every delayed operation outlasts the CIF timeout, so each one is a
	// late answer, once the run has waited for all of them.
	delayed := g.After.Delayed - g.Before.Delayed
	if rep.Late.Answers != delayed || rep.Late.Answers != g.LateCompletions || rep.Late.Retried != rep.Late.Answers || !g.LateMatches {
		t.Errorf("late answers %+v, emulator delayed %d operations and counts %d late completions (report says late matches %v)",
			rep.Late, delayed, g.LateCompletions, g.LateMatches)
	}
}

func TestLoadBadInput(t *testing.T) {
	url := loadBridge(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ws://" + ln.Addr().String() + protocol.PathWidget
	ln.Close()
	dir := t.TempDir()
	goMod := filepath.Join(dir, "go.mod")
	badRule := filepath.Join(dir, "faults.json")
	if err := os.WriteFile(goMod, []byte("module example.com/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badRule, []byte(`{"rules":[{"method":"frobnicate","latencyMs":10}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tokened, err := bridge.New(bridge.Config{
		Backend: emu, Tokens: bridge.Tokens{Widget: "widget-secret", Admin: "admin-secret"},
		Extra: map[string]http.Handler{"/api/v1/emulator/": emu.AdminHandler()},
	})
	if err != nil {
		t.Fatal(err)
	}
	tokenURL := testutil.ServeBridge(t, tokened) + protocol.PathWidget
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "rate 0", args: []string{"--url", url, "--rate", "0"}, want: "--rate must be more than 0"},
		{name: "unknown method", args: []string{"--url", url, "--rate", "10", "--mix", "createrecord=1,frobnicate=2"}, want: `unknown method "frobnicate"`},
		{name: "bad weight", args: []string{"--url", url, "--rate", "10", "--mix", "createrecord=x"}, want: "weight of createrecord"},
		{name: "unreachable", args: []string{"--url", closed, "--rate", "10", "--duration", "1s"}, want: "cannot reach"},
		{name: "remote host", args: []string{"--url", "ws://192.0.2.1:8787/v1/widget", "--rate", "10"}, want: "not loopback"},
		{name: "not a websocket URL", args: []string{"--url", "http://127.0.0.1:1/v1/widget", "--rate", "10"}, want: "ws:// or wss://"},
		{name: "both models", args: []string{"--url", url, "--rate", "10", "--closed"}, want: "not both"},
		{name: "missing faults file", args: []string{"--url", url, "--rate", "10", "--faults", "/nonexistent/faults.json"}, want: "--faults"},
		{name: "faults file not JSON", args: []string{"--url", url, "--rate", "10", "--faults", goMod}, want: "--faults " + goMod},
		{name: "faults rule unknown method", args: []string{"--url", url, "--rate", "10", "--faults", badRule}, want: `rules[0].method "frobnicate" is not a known method`},
		{name: "negative drain", args: []string{"--url", url, "--rate", "10", "--drain", "-5s"}, want: "--drain"},
		{name: "negative late wait", args: []string{"--url", url, "--rate", "10", "--late-wait", "-1s"}, want: "--late-wait"},
		// A widget token opens the WebSockets but not the emulator's
		// ground truth in the admin API: say which token load needs.
		{name: "widget token", args: []string{"--url", tokenURL, "--token", "widget-secret", "--rate", "10", "--duration", "1s"}, want: "give it the admin token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"load"}, tc.args...), &stdout, &stderr)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestLoadRetryDuplicatesMatchLedger runs the load tool against the real
// `cifbridge serve` (retry engine, ledger in t.TempDir()) with a tenth of
// the creates — cif.createrecord, enreach.xrm.createRecord and
// enreach.xrm.execute CRUD Creates — delayed 400..900 ms past a 300 ms CIF
// timeout (an xrm.createRecord retries after 200 ms, so some late answers
// come while it still retries and some after it was answered). The report
// must tell the engine's attempts from raw CIF calls and read the ledger
// entries' real shapes: its confirmed duplicates equal the emulator's extra
// records and what /api/v1/ledger holds; its late answers equal the
// emulator's late completions.
func TestLoadRetryDuplicatesMatchLedger(t *testing.T) {
	url, _, _ := startServe(t, "--cif-timeout", "300ms")
	dir := t.TempDir()
	const late = `"latency":{"kind":"uniform","minMs":400,"maxMs":900},"ratio":0.1`
	faults := tempFile(t, "faults.json", `{"seed":7,"rules":[{"method":"createrecord",`+late+`},{"method":"execute",`+late+`}]}`)
	html := filepath.Join(dir, "report.html")
	rep, raw := runLoadReport(t, "--url", url, "--sessions", "4", "--rate", "60", "--duration", "2s",
		"--mix", "xrm.createRecord=4,xrm.execute=2,createrecord=1", "--faults", faults, "--html", html)
	g := rep.GroundTruth
	if g == nil {
		t.Fatal("no ground truth in the report")
	}
	if rep.Truncated || rep.Unanswered != 0 || rep.SendErrors != 0 || rep.Unmatched != 0 || rep.BadFrames != 0 || rep.Dropped != 0 {
		t.Errorf("truncated %v, unanswered %d, send errors %d, unmatched %d, bad frames %d, dropped %d",
			rep.Truncated, rep.Unanswered, rep.SendErrors, rep.Unmatched, rep.BadFrames, rep.Dropped)
	}
	// Expected errors only: a raw CIF create's timeout; an xrm create whose
	// every attempt was delayed (-32005, rare).
	var cifTimeouts, exhausted int64
	for method, c := range rep.Totals {
		want := map[string]int64{"-32000": 0}
		if strings.HasPrefix(method, "enreach.xrm.") {
			want = map[string]int64{"-32005": 0}
		}
		for code, n := range c.Errors {
			if _, ok := want[strconv.FormatInt(code, 10)]; !ok {
				t.Errorf("%s: %d × error %d", method, n, code)
			}
		}
		cifTimeouts += c.Errors[protocol.CodeTimeout]
		exhausted += c.Errors[protocol.CodeRetriesExhausted]
		if c.Sent != c.Answered {
			t.Errorf("%s: sent %d, answered %d", method, c.Sent, c.Answered)
		}
	}
	if rep.Totals[protocol.MethodXrmExecute].OK == 0 || rep.Totals[protocol.MethodXrmCreateRecord].OK == 0 {
		t.Fatalf("totals %v: want execute and createRecord creates", rep.Totals)
	}

	// The ledger as the bridge serves it, read after the run.
	entries := ledgerEntries(t, url)
	statuses := map[string]int64{}
	var confirmedExtra, ledgerExtra, timedOut int64
	for _, e := range entries {
		statuses[string(e.Status)]++
		answered := int64(0) // the record the widget's successful answer holds
		for _, a := range e.Attempts {
			switch a.Outcome {
			case protocol.LedgerOutcomeSuccess:
				answered = 1
			case protocol.LedgerOutcomeLateSuccess, protocol.LedgerOutcomeLateFailure:
				timedOut++
			default:
				t.Errorf("ledger entry %s: attempt outcome %q (status %s): want every late answer in", e.ID, a.Outcome, e.Status)
			}
		}
		ledgerExtra += int64(len(e.RecordIDs)) - answered
		if e.Status == protocol.LedgerConfirmed {
			confirmedExtra += int64(len(e.RecordIDs)) - 1
		}
	}
	if statuses[string(protocol.LedgerConfirmed)] == 0 {
		t.Fatalf("ledger %v: no confirmed duplicate; the fault profile did not apply", statuses)
	}
	if exhausted == 0 && ledgerExtra != confirmedExtra {
		t.Errorf("no create failed, yet the ledger's extra records %d differ from its confirmed entries' %d", ledgerExtra, confirmedExtra)
	}
	if !maps.Equal(rep.Duplicates.Ledger, statuses) {
		t.Errorf("report ledger entries %v, /api/v1/ledger %v", rep.Duplicates.Ledger, statuses)
	}

	d := rep.Duplicates
	if d.Confirmed != g.ExtraRecords || d.Confirmed != ledgerExtra+rep.Late.CreateSuccess {
		t.Errorf("confirmed duplicates %d, emulator extra records %d, ledger extra records %d + late cif.createrecord %d",
			d.Confirmed, g.ExtraRecords, ledgerExtra, rep.Late.CreateSuccess)
	}
	if d.Suspected < d.Confirmed || d.Flagged != int64(len(entries)) {
		t.Errorf("suspected %d, confirmed %d, flagged %d for %d ledger entries", d.Suspected, d.Confirmed, d.Flagged, len(entries))
	}
	// Every timed-out attempt — the raw CIF timeouts the widget saw and the
	// retry engine's own — completed late in the emulator and came back as
	// bridge.late.
	if rep.Late.CreateSuccess != cifTimeouts || rep.Late.Answers-rep.Late.Retried != cifTimeouts || rep.Late.Retried != timedOut {
		t.Errorf("late %+v: want %d raw cif.createrecord and %d retry-engine attempts", rep.Late, cifTimeouts, timedOut)
	}
	if g.LateCompletions != cifTimeouts+timedOut || rep.Late.Answers != g.LateCompletions {
		t.Errorf("emulator late completions %d, cif timeouts %d + engine attempts timed out %d, late answers %d",
			g.LateCompletions, cifTimeouts, timedOut, rep.Late.Answers)
	}
	if !g.LateMatches || !g.ExtraMatchesConfirmed {
		t.Errorf("report says late matches %v, extra matches %v", g.LateMatches, g.ExtraMatchesConfirmed)
	}

	// The written reports carry the same counts under their documented names.
	var doc struct {
		Duplicates struct {
			Suspected, Confirmed, Flagged *int64
			Ledger                        map[string]int64
		} `json:"duplicates"`
		Late        struct{ Answers, Retried *int64 } `json:"late"`
		GroundTruth struct {
			ExtraRecords, LateCompletions *int64
		} `json:"groundTruth"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]struct {
		got  *int64
		want int64
	}{
		"duplicates.suspected": {doc.Duplicates.Suspected, d.Suspected}, "duplicates.confirmed": {doc.Duplicates.Confirmed, d.Confirmed},
		"duplicates.flagged": {doc.Duplicates.Flagged, d.Flagged}, "late.answers": {doc.Late.Answers, rep.Late.Answers},
		"late.retried": {doc.Late.Retried, rep.Late.Retried}, "groundTruth.extraRecords": {doc.GroundTruth.ExtraRecords, g.ExtraRecords},
		"groundTruth.lateCompletions": {doc.GroundTruth.LateCompletions, g.LateCompletions},
	} {
		if p.got == nil || *p.got != p.want {
			t.Errorf("JSON report %s = %v, want %d", name, p.got, p.want)
		}
	}
	if doc.Duplicates.Ledger[string(protocol.LedgerConfirmed)] != statuses[string(protocol.LedgerConfirmed)] {
		t.Errorf("JSON report duplicates.ledger %v, want %v", doc.Duplicates.Ledger, statuses)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("duplicates: suspected %d, confirmed %d (records); creates flagged possibleDuplicate %d", d.Suspected, d.Confirmed, d.Flagged),
		"ledger entries: " + ledgerCounts(statuses),
		fmt.Sprintf("late completions %d, extra records %d", g.LateCompletions, g.ExtraRecords),
		fmt.Sprintf("of retried calls&#39; attempts %d", rep.Late.Retried),
		"late completions == late answers; extra records == confirmed duplicates",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("HTML report does not show %q", want)
		}
	}
}

// ledgerEntries reads every entry of GET /api/v1/ledger on the bridge whose
// widget URL is wsURL.
func ledgerEntries(t *testing.T, wsURL string) []protocol.LedgerEntry {
	t.Helper()
	base := "http" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws"), protocol.PathWidget)
	resp, err := http.Get(base + ledger.PathList + "?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Entries []protocol.LedgerEntry }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", ledger.PathList, resp.Status, err)
	}
	if len(body.Entries) == 1000 {
		t.Fatal("1000 ledger entries: the list may be cut off")
	}
	return body.Entries
}

// ledgerCounts is the report's "ledger entries" list: "cleared 5, confirmed 5".
func ledgerCounts(statuses map[string]int64) string {
	keys := slices.Sorted(maps.Keys(statuses))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, statuses[k])
	}
	return strings.Join(parts, ", ")
}
