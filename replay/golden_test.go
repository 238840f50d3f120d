package replay_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
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
	drive   func(t *testing.T, e *replay.Embedded)
}

var scenarios = []scenario{
	{name: "normal", mode: replay.ModeWidget, profile: protocol.ProfileCIF1, timeout: 2 * time.Second, drive: driveNormal},
	{name: "incident", mode: replay.ModeFull, profile: protocol.ProfileCIF1, timeout: 200 * time.Millisecond, drive: driveIncident},
	{name: "events", mode: replay.ModeWidget, profile: protocol.ProfileCIF2, timeout: time.Second, drive: driveEvents},
}

// driveNormal: hello, create, retrieve (the created GUID), update, search.
func driveNormal(t *testing.T, e *replay.Embedded) {
	w := dialWS(t, e.URL)
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

// driveIncident: the duplicate incident on the raw channel with a host
// backend. The first create's answer comes after the CIF timeout (-32000),
// the widget retries, then bridge.late delivers the first record, which the
// widget deletes (its GUID comes from the notification).
func driveIncident(t *testing.T, e *replay.Embedded) {
	host := dialWS(t, strings.Replace(e.URL, protocol.PathWidget, protocol.PathHost, 1))
	host.call("host.hello", map[string]any{"sessions": "*", "name": "golden host"})
	creates := 0
	go func() {
		for m := range host.in {
			var method string
			json.Unmarshal(m["method"], &method)
			reply := func(d time.Duration, result any) {
				time.Sleep(d)
				host.send(map[string]any{"jsonrpc": "2.0", "id": m["id"], "result": result})
			}
			switch method {
			case "cif.createrecord":
				creates++
				d := time.Duration(0)
				if creates == 1 {
					d = 350 * time.Millisecond
				}
				go reply(d, map[string]any{"entityType": "phonecall", "id": newGUID()})
			default:
				go reply(0, map[string]any{})
			}
		}
	}()
	w := dialWS(t, e.URL)
	w.call("bridge.hello", map[string]any{})
	create := map[string]any{"entityName": "phonecall", "value": map[string]any{"subject": "Call +358401234567", "phonenumber": "+358401234567"}}
	if r := w.call("cif.createrecord", create); !strings.Contains(string(r["error"]), "-32000") {
		t.Fatalf("first create: want the CIF timeout, got %v", r)
	}
	if r := w.call("cif.createrecord", create); len(r["result"]) == 0 {
		t.Fatalf("retry: %v", r)
	}
	late := w.recv()
	if string(late["method"]) != `"bridge.late"` {
		t.Fatalf("want bridge.late, got %v", late)
	}
	dup := str(t, late["params"], "result", "id")
	w.call("cif.deleterecord", map[string]any{"entityName": "phonecall", "entityId": dup})
}

// driveEvents: an onclicktoact raised through the admin API, answered by the
// widget, then a phonecall created from it.
func driveEvents(t *testing.T, e *replay.Embedded) {
	w := dialWS(t, e.URL)
	hello := w.call("bridge.hello", map[string]any{"profile": "cif2"})
	sess := str(t, hello["result"], "session")
	base := "http" + strings.TrimSuffix(strings.TrimPrefix(e.URL, "ws"), protocol.PathWidget)
	posted := make(chan error, 1)
	go func() {
		resp, err := http.Post(base+"/api/v1/sessions/"+sess+"/events", "application/json",
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
	time.Sleep(20 * time.Millisecond)
	w.send(map[string]any{"jsonrpc": "2.0", "id": ev["id"], "result": map[string]any{"handled": true}})
	if err := <-posted; err != nil {
		t.Fatalf("raise event: %v", err)
	}
	w.call("cif.createrecord", map[string]any{"entityName": "phonecall", "value": map[string]any{"subject": "Call Ada Lovelace", "phonenumber": "+358401234567"}})
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// record runs a scenario on a recorded bridge and returns the capture.
func record(t *testing.T, sc scenario) string {
	t.Helper()
	e, rec := startRecorded(t, header(sc.profile, sc.timeout), sc.mode, t.TempDir())
	sc.drive(t, e)
	time.Sleep(50 * time.Millisecond)
	return rec.close(t)
}

// TestGolden (re)writes the golden captures with -update. Without it, it is
// the round trip: capture a live session, replay it against a fresh bridge
// with capture on, and compare the two captures under the rules.
func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
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
			e, rec := startRecorded(t, caps[0].Header, sc.mode, t.TempDir())
			rep, err := replay.Run(context.Background(), caps[0], &replay.Options{URL: e.URL, Mode: sc.mode, Rules: replay.Rules{LatencyTolerance: 100 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("replay of the live capture diverged:\n%s", text(rep))
			}
			again, err := replay.Load(rec.close(t))
			if err != nil {
				t.Fatal(err)
			}
			if cmp := replay.Compare(caps[0], again[0], replay.Rules{LatencyTolerance: 100 * time.Millisecond}); !cmp.OK() {
				t.Fatalf("the replay's capture differs from the live one:\n%s", text(cmp))
			}
		})
	}
}

func text(reps ...*replay.SessionReport) string {
	var sb strings.Builder
	(&replay.Report{Sessions: reps}).WriteText(&sb)
	return sb.String()
}
