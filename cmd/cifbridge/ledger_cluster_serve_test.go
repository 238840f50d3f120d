package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// One ledger for the cluster: a create on node A that times out writes a
// ledger entry in the cluster's JetStream KV bucket (--ledger-store auto
// in cluster mode); node C lists it and acknowledges it, and A reads the
// acknowledgement back.
func TestServeClusterOneLedger(t *testing.T) {
	cn, an := startPair(t, []string{"--node-id", "node-c", "--emulator-faults", slowFirstCreate(t, 1500)},
		[]string{"--node-id", "node-a", "--backend", "cluster", "--cif-timeout", "300ms"})
	cURL, cLogs, aURL := cn.url, cn.logs, an.url
	a, c := httpBase(aURL), httpBase(cURL)
	waitReady(t, a)

	res, rerr := retryCall(t, aURL, protocol.MethodXrmCreateRecord, `{"entityLogicalName":"contact","data":{"lastname":"Cluster"},"delay":0}`)
	var out protocol.XrmCreateResult
	if rerr != nil || json.Unmarshal(res, &out) != nil || out.LedgerID == "" {
		t.Fatalf("create on A: %s %+v", res, rerr)
	}

	// C lists A's entry; once the late answer came, it is confirmed (two
	// records: the slow first attempt's and the retry's).
	var list protocol.LedgerList
	deadline := time.Now().Add(20 * time.Second)
	for {
		list = protocol.LedgerList{}
		code, body := getBody(t, c+"/api/v1/ledger")
		if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
			t.Fatalf("C's ledger: %d %s", code, body)
		}
		if len(list.Entries) == 1 && list.Entries[0].Status == protocol.LedgerConfirmed || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(list.Entries) != 1 || list.Entries[0].ID != out.LedgerID || list.Entries[0].Status != protocol.LedgerConfirmed ||
		list.Totals == nil || list.Totals.Confirmed != 1 {
		t.Fatalf("C's ledger: %+v", list)
	}

	code, body := postJSON(t, c+"/api/v1/ledger/"+out.LedgerID+"/acknowledge", `{"note":"merged on C"}`)
	if code != http.StatusOK || !strings.Contains(body, `"acknowledged"`) {
		t.Fatalf("acknowledge on C: %d %s", code, body)
	}
	var e protocol.LedgerEntry
	code, body = getBody(t, a+"/api/v1/ledger/"+out.LedgerID)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || e.Status != protocol.LedgerAcknowledged || e.Note != "merged on C" {
		t.Fatalf("A reads the acknowledgement: %d %s", code, body)
	}
	if !strings.Contains(cLogs.String(), "JetStream KV bucket") {
		t.Fatalf("C does not say where its ledger is:\n%s", cLogs)
	}
}

// --ledger-store: nats needs a cluster with JetStream; a bad value is
// named.
func TestServeLedgerStoreRefusals(t *testing.T) {
	refuseServe(t, "--ledger-store nats: needs cluster mode", "--ledger-store", "nats")
	refuseServe(t, "runs no JetStream", "--ledger-store", "nats", "--cluster-listen", "127.0.0.1:0")
	refuseServe(t, `--ledger-store "kv": use auto, sqlite or nats`, "--ledger-store", "kv")
}
