package replay_test

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/replay"
)

var update = flag.Bool("update", false, "rewrite the golden captures in testdata/ from a live bridge")

// scenario drives a recorded bridge through one golden session.
type scenario struct {
	name    string
	mode    string
	profile string
	timeout time.Duration
	ledger  bool // wire the retry engine and the duplicate ledger
	drive   func(t *testing.T, e *embedded)
}

// The incident is the duplicate create of the design's §5 scaled 1:10: the
// header's CIF timeout is 1 s instead of 10 s, and the first attempt's
// answer comes 1.5 s after it was sent instead of 12 s. The scenarios run in
// a synctest bubble, so these times are exact (the retry is answered at
// 1.1 s, the late answer lands 0.4 s after it, every run); the scale stays
// because cifbridge replay's own tests replay the committed goldens in real
// time.
const (
	incidentTimeout = time.Second
	incidentLate    = 1500 * time.Millisecond
	incidentDelayMs = 100 // enreach delay between attempts (1 s unscaled)
)

var scenarios = []scenario{
	{name: "normal", mode: replay.ModeWidget, profile: protocol.ProfileCIF1, timeout: 2 * time.Second, drive: driveNormal},
	{name: "incident", mode: replay.ModeFull, profile: protocol.ProfileCIF1, timeout: incidentTimeout, ledger: true, drive: driveIncident},
	{name: "events", mode: replay.ModeWidget, profile: protocol.ProfileCIF2, timeout: time.Second, drive: driveEvents},
	{name: "batch", mode: replay.ModeWidget, profile: protocol.ProfileCIF1, timeout: 2 * time.Second, drive: driveBatch},
}

// driveNormal: hello, create, retrieve (the created GUID), update, search.
func driveNormal(t *testing.T, e *embedded) {
	w := dialWS(t, e, protocol.PathWidget)
	w.call("bridge.hello", map[string]any{"client": "golden"})
	res := w.call("cif.createrecord", map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "Ada", "lastname": "Lovelace", "mobilephone": "+358401234567"}})
	id := str(t, res["result"], "id")
	if len(id) != 36 {
		t.Fatalf("create: %s", res["result"])
	}
	w.call("cif.retrieverecord", map[string]any{"entityName": "contact", "entityId": id, "queryParameters": "?$select=firstname,lastname,createdon"})
	w.call("cif.updaterecord", map[string]any{"entityName": "contact", "entityId": id, "value": map[string]any{"lastname": "King"}})
	w.call("cif.searchandopenrecords", map[string]any{"entityName": "contact", "queryParameters": "?$select=lastname&$filter=lastname eq 'King'", "searchOnly": true})
	w.call("cif.retrieverecord", map[string]any{"entityName": "contact", "entityId": "00000000-0000-0000-0000-000000000001"})
}

// driveIncident: the duplicate incident through the retry engine, with a
// host backend. enreach.xrm.createRecord's first attempt is answered after
// incidentLate, so it times out (-32000 at incidentTimeout) and is retried
// after incidentDelayMs; the retry succeeds at once and the widget gets the
// record with possibleDuplicate and a ledgerId (entry "suspected"). Then the
// first attempt's late answer lands: bridge.late, and bridge.ledger with the
// entry "confirmed" listing both records. The widget deletes the duplicate,
// whose GUID it learnt from the notification.
func driveIncident(t *testing.T, e *embedded) {
	host := dialWS(t, e, protocol.PathHost)
	host.call("host.hello", map[string]any{"sessions": "*", "name": "golden host"})
	var creates atomic.Int32
	go func() {
		for {
			var m map[string]json.RawMessage
			select {
			case m = <-host.in:
			case <-host.done: // the test ended
				return
			}
			var method string
			json.Unmarshal(m["method"], &method)
			reply := func(d time.Duration, result any) {
				time.Sleep(d)
				host.send(map[string]any{"jsonrpc": "2.0", "id": m["id"], "result": result})
			}
			switch method {
			case "cif.createrecord":
				d := time.Duration(0)
				if creates.Add(1) == 1 {
					d = incidentLate
				}
				go reply(d, map[string]any{"entityType": "phonecall", "id": newGUID()})
			default:
				go reply(0, map[string]any{})
			}
		}
	}()
	w := dialWS(t, e, protocol.PathWidget)
	w.call("bridge.hello", map[string]any{})
	r := w.call("enreach.xrm.createRecord", map[string]any{"entityLogicalName": "phonecall",
		"data": map[string]any{"subject": "Call +358401234567", "phonenumber": "+358401234567"}, "delay": incidentDelayMs})
	var res protocol.XrmCreateResult
	if err := json.Unmarshal(r["result"], &res); err != nil || res.Attempts != 2 || !res.PossibleDuplicate || res.LedgerID == "" {
		t.Fatalf("create: want 2 attempts, possibleDuplicate and a ledgerId, got %v", r)
	}
	if late := w.recv(); string(late["method"]) != `"bridge.late"` {
		t.Fatalf("after the answer: want bridge.late, got %v", late)
	}
	note := w.recv()
	if string(note["method"]) != `"bridge.ledger"` {
		t.Fatalf("after bridge.late: want bridge.ledger, got %v", note)
	}
	var entry struct {
		Entry protocol.LedgerEntry `json:"entry"`
	}
	json.Unmarshal(note["params"], &entry)
	ids := entry.Entry.RecordIDs
	if entry.Entry.ID != res.LedgerID || entry.Entry.Status != protocol.LedgerConfirmed || len(ids) != 2 || ids[0] != res.ID {
		t.Fatalf("bridge.ledger: want %s confirmed with [%s, the late record], got %+v", res.LedgerID, res.ID, entry.Entry)
	}
	if got := ledgerEntries(t, e); len(got) != 1 || got[0].Status != protocol.LedgerConfirmed || !slices.Equal(got[0].RecordIDs, ids) {
		t.Fatalf("the bridge's ledger: %+v", got)
	}
	w.call("cif.deleterecord", map[string]any{"entityName": "phonecall", "entityId": ids[1]})
}

// driveEvents: an onclicktoact raised through the admin API, answered by the
// widget, then a phonecall created from it.
func driveEvents(t *testing.T, e *embedded) {
	w := dialWS(t, e, protocol.PathWidget)
	hello := w.call("bridge.hello", map[string]any{"profile": "cif2"})
	sess := str(t, hello["result"], "session")
	base := "http" + strings.TrimSuffix(strings.TrimPrefix(e.URL, "ws"), protocol.PathWidget)
	posted := make(chan error, 1)
	go func() {
		resp, err := e.HTTPClient.Post(base+"/api/v1/sessions/"+sess+"/events", "application/json",
			strings.NewReader(`{"eventType":"onclicktoact","eventData":{"value":"+358401234567","name":"Ada Lovelace","entityLogicalName":"contact"}}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		posted <- err
	}()
	ev := w.recv()
	w.send(map[string]any{"jsonrpc": "2.0", "id": ev["id"], "result": map[string]any{"handled": true}})
	if err := <-posted; err != nil {
		t.Fatalf("raise event: %v", err)
	}
	w.call("cif.createrecord", map[string]any{"entityName": "phonecall", "value": map[string]any{"subject": "Call Ada Lovelace", "phonenumber": "+358401234567"}})
}

// driveBatch: one JSON-RPC batch with a create, a retrieve of a seeded
// record that does not exist, a notification and an invalid member, then a
// retrieve of the created record by the GUID from the batch's answer.
func driveBatch(t *testing.T, e *embedded) {
	w := dialWS(t, e, protocol.PathWidget)
	w.sendRaw(`[{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Grace","lastname":"Hopper"}}},` +
		`{"jsonrpc":"2.0","id":2,"method":"cif.retrieverecord","params":{"entityName":"contact","entityId":"00000000-0000-0000-0000-0000000000aa"}},` +
		`{"jsonrpc":"2.0","method":"cif.setwidth","params":{"value":420}},` +
		`1]`)
	var answers []map[string]json.RawMessage
	if err := json.Unmarshal(w.recvRaw(), &answers); err != nil || len(answers) != 3 {
		t.Fatalf("batch answer: want an array of 3 (no answer to the notification), got %v %v", answers, err)
	}
	id := str(t, answers[0]["result"], "id")
	if len(id) != 36 || !strings.Contains(string(answers[1]["error"]), "-32001") || !strings.Contains(string(answers[2]["error"]), "-32600") {
		t.Fatalf("batch answers: %s / %s / %s", answers[0]["result"], answers[1]["error"], answers[2]["error"])
	}
	w.n = 3
	w.call("cif.retrieverecord", map[string]any{"entityName": "contact", "entityId": id, "queryParameters": "?$select=firstname,lastname"})
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// record runs a scenario on a recorded bridge and returns the capture; call
// it inside a synctest bubble.
func record(t *testing.T, sc scenario) string {
	t.Helper()
	e, rec := startRecorded(t, header(sc.profile, sc.timeout), sc.mode, t.TempDir(), sc.ledger)
	sc.drive(t, e)
	// Every frame is in the capture already: the bridge records a frame
	// before it writes it, and each drive ends on an answered call.
	return rec.close(t)
}

// TestGolden (re)writes the golden captures with -update. Without it, it is
// the round trip: capture a live session, replay it against a fresh bridge
// with capture on, and compare the two captures under the rules. Both run in
// a synctest bubble on in-memory pipes, so the live capture's timing (and
// with it the order of a retry's answer and a late one) is the same on every
// run, however busy the machine. (With -update the goldens' timestamps are
// the bubble's, in the year 2000: only their offsets matter.)
func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { synctest.Test(t, func(t *testing.T) { roundTrip(t, sc) }) })
	}
}

func roundTrip(t *testing.T, sc scenario) {
	live := record(t, sc)
	if *update {
		b, err := os.ReadFile(live)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden(sc.name+".jsonl"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	caps, err := replay.Load(live)
	if err != nil {
		t.Fatal(err)
	}
	if caps[0].NeedsLedger() != sc.ledger {
		t.Fatalf("NeedsLedger = %v, want %v", caps[0].NeedsLedger(), sc.ledger)
	}
	_, _, again := replayRecorded(t, caps[0], replay.Options{Mode: sc.mode}, sc.ledger)
	// Both captures come from the bubble: their latencies (lateByMs,
	// timeoutMs) are equal to the millisecond.
	if cmp := replay.Compare(caps[0], again, replay.Rules{}); !cmp.OK() {
		t.Fatalf("the replay's capture differs from the live one:\n%s", text(cmp))
	}
	if want, got := widgetOrder(caps[0]), widgetOrder(again); !slices.Equal(want, got) {
		t.Fatalf("the replay's widget frames come in another order:\nlive:   %v\nreplay: %v", want, got)
	}
}

func text(reps ...*replay.SessionReport) string {
	var sb strings.Builder
	(&replay.Report{Sessions: reps}).WriteText(&sb)
	return sb.String()
}
