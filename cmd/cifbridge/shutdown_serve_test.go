package main

import (
	"context"
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

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

	d2 := startRetryDaemon(t, bin, "--data-dir", data)
	var e protocol.LedgerEntry
	if code := d2.getJSON(t, "/api/v1/ledger/"+ed.LedgerID, &e); code != http.StatusOK || e.Status != protocol.LedgerSuspected ||
		len(e.Attempts) != 1 || e.Attempts[0].Outcome != protocol.LedgerOutcomeTimeout {
		t.Fatalf("entry after the restart: %d %+v", code, e)
	}
}
