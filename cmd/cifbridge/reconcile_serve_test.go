package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

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
