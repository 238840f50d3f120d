package main

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// serve prunes settled ledger entries older than --ledger-retention at
// start, keeps a suspected one however old, and counts what it pruned in
// /metrics.
func TestServePrunesLedgerAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ledger.FileName)
	l, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acked, err := l.Create(ctx, protocol.LedgerEntry{Session: "s", Method: "enreach.xrm.createRecord", Entity: "contact", Key: "k1", Status: protocol.LedgerAcknowledged})
	if err != nil {
		t.Fatal(err)
	}
	suspected, err := l.Create(ctx, protocol.LedgerEntry{Session: "s", Method: "enreach.xrm.createRecord", Entity: "contact", Key: "k2", Status: protocol.LedgerSuspected})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE entries SET updated = ?`, time.Now().Add(-48*time.Hour).UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	url, _, stop := startServe(t, "--data-dir", dir, "--ledger-retention", "24h")
	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/v1/widget")
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "cifbridge_ledger_pruned_total 1\n") {
		t.Errorf("/metrics lacks cifbridge_ledger_pruned_total 1")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	l, err = ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Get(ctx, acked.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("acknowledged entry 2 days old with 24h retention: %v, want pruned", err)
	}
	if _, err := l.Get(ctx, suspected.ID); err != nil {
		t.Errorf("suspected entry pruned: %v", err)
	}
}
