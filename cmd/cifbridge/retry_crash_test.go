package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// retryDaemon is the real cifbridge binary running as a subprocess.
type retryDaemon struct {
	cmd    *exec.Cmd
	widget string // ws://…/v1/widget
	base   string // http://…
	done   chan struct{}
	logs   *logBuffer // its log lines, for a failing test's report
}

// buildRetryBinary builds the cifbridge binary once per test run (the
// tests that run it share it; TestMain removes it).
func buildRetryBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cifbridge-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		bin := filepath.Join(dir, "cifbridge")
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		binPath = bin
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce         sync.Once
	binDir, binPath string
	binErr          error
)

// crashRig starts a test that runs the binary against a data directory it
// restarts on (skipped under -short): the binary and a fresh --data-dir.
func crashRig(t *testing.T) (bin, data string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	return buildRetryBinary(t), filepath.Join(t.TempDir(), "data")
}

// slowFirstCreate writes an --emulator-faults file under which the first
// create lands ms milliseconds after it was sent, and returns its path.
func slowFirstCreate(t *testing.T, ms int) string {
	t.Helper()
	return tempFile(t, "faults.json", fmt.Sprintf(`{"rules":[{"method":"createrecord","latencyMs":%d,"count":1}]}`, ms))
}

// startRetryDaemon runs `cifbridge serve` and reads the widget URL from the
// JSON log line that carries "widget".
func startRetryDaemon(t *testing.T, bin string, args ...string) *retryDaemon {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &retryDaemon{cmd: cmd, done: make(chan struct{}), logs: &logBuffer{}}
	urls := make(chan string, 1)
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.logs.Write(append(sc.Bytes(), '\n'))
			var line struct {
				Widget string `json:"widget"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Widget != "" {
				select {
				case urls <- line.Widget:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	t.Cleanup(func() { d.kill() })
	select {
	case d.widget = <-urls:
	case <-d.done:
		t.Fatal("cifbridge serve exited before serving")
	case <-time.After(20 * time.Second):
		t.Fatal("cifbridge serve did not log its widget URL")
	}
	d.base = "http://" + strings.TrimSuffix(strings.TrimPrefix(d.widget, "ws://"), protocol.PathWidget)
	return d
}

func (d *retryDaemon) kill() {
	if d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-d.done
}

func (d *retryDaemon) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get(d.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// retryCall sends one request on a fresh widget connection and returns its
// reply, skipping notifications.
func retryCall(t *testing.T, url, method, params string) (json.RawMessage, *protocol.Error) {
	t.Helper()
	return dialWS(t, url).call(method, json.RawMessage(params))
}

// TestRetryLedgerSurvivesSIGKILL provokes a suspected create on the real
// daemon, kills it with SIGKILL right after the widget got the result, and
// finds the entry intact after a restart on the same --data-dir.
func TestRetryLedgerSurvivesSIGKILL(t *testing.T) {
	bin, data := crashRig(t)
	// The first create lands at 5 s, long after the kill: the entry must
	// still say suspected after the restart.
	d := startRetryDaemon(t, bin, "--data-dir", data, "--cif-timeout", "300ms", "--emulator-faults", slowFirstCreate(t, 5000))
	res, rerr := retryCall(t, d.widget, protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{"lastname":"Crash"},"delay":0}`)
	d.kill() // SIGKILL right after the result
	if rerr != nil {
		t.Fatalf("create: %+v", rerr)
	}
	var out protocol.XrmCreateResult
	if err := json.Unmarshal(res, &out); err != nil || !out.PossibleDuplicate || out.LedgerID == "" || out.Attempts != 2 {
		t.Fatalf("result %s: %v", res, err)
	}

	d2 := startRetryDaemon(t, bin, "--data-dir", data, "--cif-timeout", "300ms")
	var e protocol.LedgerEntry
	if code := d2.getJSON(t, "/api/v1/ledger/"+out.LedgerID, &e); code != http.StatusOK {
		t.Fatalf("GET entry after restart: %d %+v", code, e)
	}
	if e.ID != out.LedgerID || e.Status != protocol.LedgerSuspected || e.Entity != "contact" || e.Method != protocol.MethodXrmCreateRecord ||
		len(e.Attempts) != 2 || e.Attempts[0].Outcome != protocol.LedgerOutcomeTimeout || e.Attempts[1].RecordID != out.ID ||
		len(e.RecordIDs) != 1 || e.RecordIDs[0] != out.ID || e.Key == "" || e.Session == "" {
		t.Fatalf("entry after restart: %+v", e)
	}
	var list struct{ Entries []protocol.LedgerEntry }
	if code := d2.getJSON(t, "/api/v1/ledger?status=suspected", &list); code != http.StatusOK || len(list.Entries) != 1 {
		t.Fatalf("list after restart: %d %+v", code, list)
	}
	resp, err := http.Get(d2.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `cifbridge_ledger_entries{status="suspected"} 1`) {
		t.Fatalf("metrics lack the ledger gauge:\n%s", grepLines(string(metrics), "cifbridge_ledger"))
	}
	// The daemon serves the engine after the restart too.
	if _, rerr := retryCall(t, d2.widget, protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{"lastname":"Again"},"idempotent":true}`); rerr != nil {
		t.Fatalf("create after restart: %+v", rerr)
	}
}

// TestRetryLedgerSurvivesSIGKILLDuringRetries: the daemon is killed while
// an enreach.xrm.createRecord waits to retry after a timed-out attempt
// (up to a minute with "delay"), before the widget has any answer. The
// attempt may still land, so the entry must already be on disk, suspected,
// and be there after the restart.
func TestRetryLedgerSurvivesSIGKILLDuringRetries(t *testing.T) {
	bin, data := crashRig(t)
	d := startRetryDaemon(t, bin, "--data-dir", data, "--cif-timeout", "300ms", "--emulator-faults", slowFirstCreate(t, 5000))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dialConn(t, ctx, d.widget, nil)
	go c.Call(ctx, protocol.MethodXrmCreateRecord, json.RawMessage(`{"entityLogicalName":"contact","data":{"lastname":"Mid-retry"},"maxRetries":1,"delay":60000}`), nil)
	// The entry is written when the first attempt times out (300 ms), not
	// when the retries end (a minute later): wait for it, then kill.
	var list struct{ Entries []protocol.LedgerEntry }
	for len(list.Entries) == 0 {
		if ctx.Err() != nil {
			t.Fatal("no ledger entry while the create waits to retry after a timed-out attempt")
		}
		time.Sleep(20 * time.Millisecond)
		d.getJSON(t, "/api/v1/ledger?status=suspected", &list)
	}
	d.kill()

	d2 := startRetryDaemon(t, bin, "--data-dir", data, "--cif-timeout", "300ms")
	var e protocol.LedgerEntry
	if code := d2.getJSON(t, "/api/v1/ledger/"+list.Entries[0].ID, &e); code != http.StatusOK {
		t.Fatalf("GET entry after restart: %d %+v", code, e)
	}
	if e.Status != protocol.LedgerSuspected || e.Method != protocol.MethodXrmCreateRecord || e.Entity != "contact" || e.Key == "" ||
		len(e.Attempts) != 1 || e.Attempts[0].Outcome != protocol.LedgerOutcomeTimeout || len(e.RecordIDs) != 0 {
		t.Fatalf("entry after restart: %+v", e)
	}
}

// TestRetryServeWiring checks the plug-in's wiring on the real binary: bad REST input
// is a clear 400 and --idempotent-creates is accepted.
func TestRetryServeWiring(t *testing.T) {
	bin, data := crashRig(t)
	d := startRetryDaemon(t, bin, "--data-dir", data, "--idempotent-creates")
	var body struct {
		Error struct {
			Code    int
			Message string
		}
	}
	if code := d.getJSON(t, "/api/v1/ledger?since=yesterday", &body); code != http.StatusBadRequest || !strings.Contains(body.Error.Message, "since") {
		t.Fatalf("bad since: %d %+v", code, body)
	}
	if code := d.getJSON(t, "/api/v1/ledger/Lnope", &body); code != http.StatusNotFound {
		t.Fatalf("unknown id: %d %+v", code, body)
	}
	res, rerr := retryCall(t, d.widget, protocol.MethodXrmCreateRecord, `{"entityLogicalName":"phonecall","data":{"subject":"s"}}`)
	if rerr != nil {
		t.Fatal(rerr)
	}
	var out protocol.XrmCreateResult
	json.Unmarshal(res, &out)
	// --idempotent-creates put our GUID in activityid: the id is that key.
	rec, rerr := retryCall(t, d.widget, protocol.MethodXrmRetrieveRecord, `{"entityLogicalName":"phonecall","id":"`+out.ID+`"}`)
	if rerr != nil || !strings.Contains(string(rec), out.ID) {
		t.Fatalf("retrieve: %s %+v", rec, rerr)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestCrashReconciliation: a create left suspected by a SIGKILL is not
// suspected forever: after a restart it becomes expired-unknown, with the
// reason, once its late window is over (at start, or by the timer the
// start arms when the window is still open).
func TestCrashReconciliation(t *testing.T) {
	bin, data := crashRig(t)
	d := startRetryDaemon(t, bin, "--data-dir", data, "--cif-timeout", "300ms", "--emulator-faults", slowFirstCreate(t, 5000))
	res, rerr := retryCall(t, d.widget, protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{"lastname":"Crash"},"delay":0}`)
	d.kill()
	var out protocol.XrmCreateResult
	if rerr != nil || json.Unmarshal(res, &out) != nil || out.LedgerID == "" {
		t.Fatalf("create: %s %+v", res, rerr)
	}

	// A long window: the entry waits, still suspected.
	d2 := startRetryDaemon(t, bin, "--data-dir", data, "--late-window", "1h")
	var e protocol.LedgerEntry
	if d2.getJSON(t, "/api/v1/ledger/"+out.LedgerID, &e); e.Status != protocol.LedgerSuspected {
		t.Fatalf("within the window: %+v", e)
	}
	d2.kill()

	// A window that ends a few seconds from now: it expires by then.
	d3 := startRetryDaemon(t, bin, "--data-dir", data, "--late-window", "4s")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code := d3.getJSON(t, "/api/v1/ledger/"+out.LedgerID, &e); code != http.StatusOK {
			t.Fatalf("GET entry: %d", code)
		}
		if e.Status != protocol.LedgerSuspected || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if e.Status != protocol.LedgerExpiredUnknown || e.Note != ledger.NoteExpiredAfterRestart || e.Attempts[0].Outcome != protocol.LedgerOutcomeExpired {
		t.Fatalf("after the window: %+v", e)
	}
	var list struct{ Entries []protocol.LedgerEntry }
	if d3.getJSON(t, "/api/v1/ledger?status=suspected", &list); len(list.Entries) != 0 {
		t.Fatalf("still suspected: %+v", list.Entries)
	}
}

// TestShutdownRecordsDeliveredCreate: SIGTERM while a create through the
// retry engine sits in the backend. The widget hears that it may have run
// (the -32007 says delivered, the -32005 names a ledger entry), and the
// entry is on disk as suspected before the process exits.
func TestShutdownRecordsDeliveredCreate(t *testing.T) {
	bin, data := crashRig(t)
	d := startRetryDaemon(t, bin, "--data-dir", data, "--drain-timeout", "200ms", "--emulator-faults", slowFirstCreate(t, 30000))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := dialConn(t, ctx, d.widget, nil)
	answered := make(chan error, 1)
	go func() {
		answered <- w.Call(ctx, protocol.MethodXrmCreateRecord, map[string]any{"entityLogicalName": "contact", "data": map[string]any{"lastname": "Term"}}, nil)
	}()
	// Wait until the create is in the emulator's hands. The daemon is
	// another process: its admin API is polled, with the 20 s bound of ctx.
	for ctx.Err() == nil {
		var list struct {
			Sessions []struct{ InFlight []json.RawMessage }
		}
		d.getJSON(t, "/api/v1/sessions", &list)
		if len(list.Sessions) == 1 && len(list.Sessions[0].InFlight) == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	err := <-answered
	<-d.done
	pe := protocol.AsError(err)
	if err == nil || pe.Code != protocol.CodeRetriesExhausted {
		t.Fatalf("answer %v, want -32005 naming the ledger entry", err)
	}
	var ed protocol.ExhaustedData
	if err := json.Unmarshal(pe.Data, &ed); err != nil || ed.LedgerID == "" || len(ed.Attempts) != 1 ||
		ed.LastError == nil || ed.LastError.Code != protocol.CodeShuttingDown {
		t.Fatalf("data %s: %v", pe.Data, err)
	}
	if del, ok := protocol.Delivered(ed.LastError); !ok || !del {
		t.Fatalf("last error %+v does not say delivered", ed.LastError)
	}
	// Nothing timed out: the message says what happened.
	if strings.Contains(pe.Message, "timed out") || !strings.Contains(pe.Message, "the bridge stopped while the backend had an attempt") {
		t.Errorf("message %q: want it to say the bridge stopped with the attempt delivered, not that it timed out", pe.Message)
	}

	d2 := startRetryDaemon(t, bin, "--data-dir", data)
	var e protocol.LedgerEntry
	if code := d2.getJSON(t, "/api/v1/ledger/"+ed.LedgerID, &e); code != http.StatusOK || e.Status != protocol.LedgerSuspected ||
		len(e.Attempts) != 1 || e.Attempts[0].Outcome != protocol.LedgerOutcomeTimeout {
		t.Fatalf("entry after the restart: %d %+v", code, e)
	}
}
