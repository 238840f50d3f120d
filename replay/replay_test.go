package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/replay"
)

// replayFile replays the capture at path on a fresh embedded bridge, not
// comparing the ignore paths; call it inside a synctest bubble.
func replayFile(t *testing.T, path, mode string, ignore ...string) *replay.SessionReport {
	t.Helper()
	caps, err := replay.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := startEmbedded(caps[0].Header, mode, &embeddedOptions{Ledger: caps[0].NeedsLedger()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rep, err := replay.Run(context.Background(), caps[0], &replay.Options{URL: e.URL, HTTPClient: e.HTTPClient, Mode: mode,
		Rules: replay.Rules{LatencyTolerance: 100 * time.Millisecond, Ignore: ignore}, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReplayGoldens replays every committed golden on a fresh embedded
// bridge: everything must match.
func TestReplayGoldens(t *testing.T) {
	for _, tt := range []struct{ name, mode string }{
		{"normal", replay.ModeWidget},
		{"incident", replay.ModeFull},
		{"events", replay.ModeWidget},
		{"postmessage", replay.ModeWidget},
		{"batch", replay.ModeWidget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rep := replayFile(t, golden(tt.name+".jsonl"), tt.mode)
				if !rep.OK() || rep.Matched == 0 {
					t.Fatalf("replay diverged:\n%s", text(rep))
				}
			})
		})
	}
}

// alterGolden writes a copy of a golden with the first line that edit
// changes changed, and returns its path and that line's number.
func alterGolden(t *testing.T, name string, edit func(line string) string) (string, int) {
	t.Helper()
	b, err := os.ReadFile(golden(name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if e := edit(l); e != l {
			lines[i] = e
			path := filepath.Join(t.TempDir(), "altered.jsonl")
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			return path, i + 1
		}
	}
	t.Fatalf("nothing altered in %s", name)
	return "", 0
}

// TestReplayAltered changes one captured field: the replay must diverge and
// name the frame (file:line) and the path. Ignore paths that name no
// member ("", as an empty --ignore gives) ignore nothing: they stood for
// the message itself, so every frame matched, the altered one too, and
// the live session was never bound.
func TestReplayAltered(t *testing.T) {
	for _, ignore := range [][]string{nil, {"", "."}} {
		t.Run(fmt.Sprintf("ignore %q", ignore), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				path, n := alterGolden(t, "normal.jsonl", func(l string) string {
					if strings.Contains(l, `"dir":"out"`) && strings.Contains(l, `"peer":"widget"`) {
						return strings.Replace(l, `"firstname":"Ada"`, `"firstname":"Grace"`, 1)
					}
					return l
				})
				rep := replayFile(t, path, replay.ModeWidget, ignore...)
				if rep.OK() || len(rep.Diverged) != 1 || rep.LiveSession == "" {
					t.Fatalf("want one divergence and the live session bound:\n%s", text(rep))
				}
				d := rep.Diverged[0]
				if want := path + ":" + itoa(n); d.Frame != want || len(d.Diffs) != 1 || d.Diffs[0].Path != "result.firstname" {
					t.Fatalf("divergence = %+v, want frame %s path result.firstname", d, want)
				}
				if s := text(rep); !strings.Contains(s, `result.firstname: want "Grace", got "Ada"`) {
					t.Errorf("report:\n%s", s)
				}
			})
		})
	}
}

// TestCheckIgnorePath: what --ignore refuses (exit 2) and what it takes.
func TestCheckIgnorePath(t *testing.T) {
	for _, p := range []string{"", " ", "."} {
		if err := replay.CheckIgnorePath(p); err == nil {
			t.Errorf("CheckIgnorePath(%q) = nil, want an error", p)
		}
	}
	for _, p := range []string{"createdon", "result.value[0].name", "params.entry.*", "x[]"} {
		if err := replay.CheckIgnorePath(p); err != nil {
			t.Errorf("CheckIgnorePath(%q) = %v", p, err)
		}
	}
}

// capturedConfirmed reads the golden incident's bridge.ledger notification
// independently of the replayer: the entry the widget was told about.
func capturedConfirmed(t *testing.T) protocol.LedgerEntry {
	t.Helper()
	_, frames, err := protocol.ReadCaptureFile(golden("incident.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var last protocol.LedgerEntry
	for _, f := range frames {
		var m struct {
			Method string `json:"method"`
			Params struct {
				Entry protocol.LedgerEntry `json:"entry"`
			} `json:"params"`
		}
		if f.Peer == protocol.CapturePeerWidget && json.Unmarshal(f.Msg, &m) == nil && m.Method == protocol.NotifyLedger {
			last = m.Params.Entry
		}
	}
	if last.Status != protocol.LedgerConfirmed || len(last.RecordIDs) != 2 {
		t.Fatalf("the golden incident's ledger entry is %+v, want confirmed with two records", last)
	}
	return last
}

// TestReplayIncidentLedger replays the duplicate incident in full mode (the
// replayer is the host and answers the first create 1.2 s late): the
// replay's own ledger must end as the capture's did — one entry, confirmed,
// with the retry's record first and the late one second — and the report
// must say so, ids mapped to the replay's.
func TestReplayIncidentLedger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		want := capturedConfirmed(t)
		caps, err := replay.Load(golden("incident.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if !caps[0].NeedsLedger() {
			t.Fatal("NeedsLedger = false for a capture with enreach.xrm.createRecord")
		}
		rep, e, again := replayRecorded(t, caps[0], replay.Options{Mode: replay.ModeFull}, true)
		got := ledgerEntries(t, e)
		if len(got) != 1 || got[0].Status != protocol.LedgerConfirmed || len(got[0].RecordIDs) != 2 || got[0].Session != rep.LiveSession {
			t.Fatalf("the replay's ledger: %+v (live session %s)", got, rep.LiveSession)
		}
		if len(rep.Ledger) != 1 {
			t.Fatalf("report ledger = %+v, want one entry", rep.Ledger)
		}
		o := rep.Ledger[0]
		if !o.Matched || o.Captured.ID != want.ID || o.Captured.Status != string(want.Status) || !slices.Equal(o.Captured.RecordIDs, want.RecordIDs) {
			t.Fatalf("report captured side %+v, want %s %s %v", o, want.ID, want.Status, want.RecordIDs)
		}
		if o.Replayed == nil || o.Replayed.ID != got[0].ID || o.Replayed.Status != string(got[0].Status) || !slices.Equal(o.Replayed.RecordIDs, got[0].RecordIDs) {
			t.Fatalf("report replayed side %+v, want the bridge's %+v", o.Replayed, got[0])
		}
		if s := text(rep); !strings.Contains(s, "ledger   "+want.ID+" confirmed") || !strings.Contains(s, "→ replay "+got[0].ID+" confirmed") {
			t.Errorf("report lacks the ledger line:\n%s", s)
		}
		// The replay's capture tells the same story in the same order: the
		// retry's answer, then bridge.late, then bridge.ledger, then the delete
		// of the late record (the replay's GUID, from its own notification).
		if w, g := widgetOrder(caps[0]), widgetOrder(again); !slices.Equal(w, g) {
			t.Fatalf("order differs:\ncapture: %v\nreplay:  %v", w, g)
		}
		var deleted string
		for _, f := range again.Frames {
			if f.Peer == protocol.CapturePeerWidget && f.Dir == protocol.CaptureDirIn && strings.Contains(string(f.Msg), "cif.deleterecord") {
				deleted = str(t, f.Msg, "params", "entityId")
			}
		}
		if deleted != got[0].RecordIDs[1] {
			t.Errorf("the replay deleted %q, want the late record %s", deleted, got[0].RecordIDs[1])
		}
	})
}

// TestReplayLedgerAltered: a capture whose ledger ended otherwise (the
// notification says "cleared" with one record) must diverge, naming the
// frame and the ledger entry — on the notification and on the ledger itself.
func TestReplayLedgerAltered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		want := capturedConfirmed(t)
		path, n := alterGolden(t, "incident.jsonl", func(l string) string {
			if !strings.Contains(l, `"bridge.ledger"`) {
				return l
			}
			l = strings.Replace(l, `"status":"confirmed"`, `"status":"cleared"`, 1)
			return strings.Replace(l, `,"`+want.RecordIDs[1]+`"]`, `]`, 1)
		})
		rep := replayFile(t, path, replay.ModeFull)
		if rep.OK() || len(rep.Ledger) != 1 || rep.Ledger[0].Matched {
			t.Fatalf("want a ledger divergence:\n%s", text(rep))
		}
		var onLedger bool
		for _, d := range rep.Diverged {
			if d.Frame == path+":"+itoa(n) && d.What == "ledger entry "+want.ID {
				onLedger = true
				if len(d.Diffs) != 2 || d.Diffs[0].Path != "recordIds" || d.Diffs[1].Path != "status" {
					t.Errorf("ledger diffs = %v", d.Diffs)
				}
			}
		}
		if !onLedger {
			t.Fatalf("no divergence on the ledger entry at %s:%d:\n%s", path, n, text(rep))
		}
		if s := text(rep); !strings.Contains(s, `status: want "cleared", got "confirmed"`) {
			t.Errorf("report:\n%s", s)
		}
	})
}

// TestReplaySpeed: --speed divides the widget's captured think time. The
// normal golden gets 400 ms more think time before its third request;
// replayed at speed 0.5 the replay's own capture shows twice the captured
// gap before it.
func TestReplaySpeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, frames, err := protocol.ReadCaptureFile(golden("normal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		const think = 400 * time.Millisecond
		var sb strings.Builder
		hb, _ := json.Marshal(h)
		sb.Write(append(hb, '\n'))
		requests, at := 0, -1
		for i, f := range frames {
			if f.Peer == protocol.CapturePeerWidget && f.Dir == protocol.CaptureDirIn {
				if requests++; requests == 3 {
					at = i
				}
			}
			if at >= 0 {
				f.T = f.T.Add(think)
			}
			fb, _ := json.Marshal(f)
			sb.Write(append(fb, '\n'))
		}
		path := filepath.Join(t.TempDir(), "slow.jsonl")
		os.WriteFile(path, []byte(sb.String()), 0o644)
		caps, err := replay.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		_, _, again := replayRecorded(t, caps[0], replay.Options{Speed: 0.5}, false)
		// In the bubble every answer takes no time and every request leaves
		// exactly when due, so the think time before the third request is
		// exactly twice the captured one (the gap since the second).
		captured, replayed := requestGap(caps[0].Frames, 3), requestGap(again.Frames, 3)
		if captured < think || replayed != 2*captured {
			t.Fatalf("think time before the third request: %v in the replay, want %v (captured %v at speed 0.5)", replayed, 2*captured, captured)
		}
	})
}

// requestGap is the time between the widget's request n-1 and request n.
func requestGap(frames []replay.Frame, n int) time.Duration {
	var at []time.Time
	for _, f := range frames {
		if f.Peer == protocol.CapturePeerWidget && f.Dir == protocol.CaptureDirIn {
			at = append(at, f.T)
		}
	}
	if len(at) < n {
		return -1
	}
	return at[n-1].Sub(at[n-2])
}

// TestReplayProgress: Progress hears every action, in order, up to the total
// (cifbridge replay draws it on a TTY).
func TestReplayProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps, err := replay.Load(golden("normal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		e, err := startEmbedded(caps[0].Header, replay.ModeWidget, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		var calls [][2]int
		rep, err := replay.Run(context.Background(), caps[0], &replay.Options{URL: e.URL, HTTPClient: e.HTTPClient, Rules: replay.Rules{LatencyTolerance: 100 * time.Millisecond},
			Progress: func(sent, total int) { calls = append(calls, [2]int{sent, total}) }})
		if err != nil || !rep.OK() {
			t.Fatalf("replay: %v\n%s", err, text(rep))
		}
		if len(calls) != 6 { // hello, create, retrieve, update, search, retrieve
			t.Fatalf("progress calls = %v, want 6", calls)
		}
		for i, c := range calls {
			if c != [2]int{i + 1, 6} {
				t.Fatalf("progress calls = %v", calls)
			}
		}
	})
}
