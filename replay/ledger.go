package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// The duplicate ledger (DESIGN §5). A capture does not hold the ledger, but
// the widget saw what it needs: a create's result or -32005 error names the
// entry (ledgerId) and every later change came as a bridge.ledger
// notification. An entry never notified stayed "suspected" (the retry
// engine notifies every other status). After a replay the replayer reads
// the bridge's ledger for the live session (GET /api/v1/ledger?session=) and
// compares each entry's status and record ids, ids mapped by the rules.

// LedgerState is one ledger entry's outcome.
type LedgerState struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	RecordIDs []string `json:"recordIds"`
}

func (s LedgerState) String() string {
	return fmt.Sprintf("%s %s [%s]", s.ID, s.Status, strings.Join(s.RecordIDs, " "))
}

// LedgerOutcome pairs a ledger entry of the capture with the replay's.
type LedgerOutcome struct {
	Frame    string       `json:"frame"` // file:line where the capture last mentions the entry
	Captured LedgerState  `json:"captured"`
	Replayed *LedgerState `json:"replayed"` // nil when the replay has no such entry
	Matched  bool         `json:"matched"`
}

// statusSuspected is the status of an entry the widget was never notified
// about.
const statusSuspected = string(protocol.LedgerSuspected)

// NeedsLedger reports whether replaying c needs the retry engine and the
// duplicate ledger: it calls enreach.xrm.* or mentions ledger entries.
func (c *Capture) NeedsLedger() bool {
	for i := range c.Frames {
		f := &c.Frames[i]
		if f.Peer != protocol.CapturePeerWidget || f.Invalid {
			continue
		}
		if f.Dir == protocol.CaptureDirIn && bytes.Contains(f.Msg, []byte(`"enreach.xrm.`)) {
			return true
		}
		if f.Dir == protocol.CaptureDirOut && (bytes.Contains(f.Msg, []byte(`"`+protocol.NotifyLedger+`"`)) || bytes.Contains(f.Msg, []byte(`"ledgerId"`))) {
			return true
		}
	}
	return false
}

// capturedLedger returns the ledger entries the capture's widget saw, in
// the order they first appear, each with the frame that last mentions it.
func capturedLedger(c *Capture) ([]LedgerState, []string) {
	var (
		order  []string
		states = map[string]*LedgerState{}
		where  = map[string]string{}
	)
	see := func(id string, f *Frame) *LedgerState {
		s, ok := states[id]
		if !ok {
			s = &LedgerState{ID: id, Status: statusSuspected, RecordIDs: []string{}}
			states[id] = s
			order = append(order, id)
		}
		where[id] = f.Where()
		return s
	}
	for i := range c.Frames {
		f := &c.Frames[i]
		if f.Peer != protocol.CapturePeerWidget || f.Dir != protocol.CaptureDirOut || f.Invalid {
			continue
		}
		for _, msg := range splitBatch(f.Msg) {
			w, ok := parseWire(msg)
			if !ok {
				continue
			}
			switch {
			case w.Method == protocol.NotifyLedger:
				var p struct {
					Entry LedgerState `json:"entry"`
				}
				if json.Unmarshal(w.Params, &p) == nil && p.Entry.ID != "" {
					s := see(p.Entry.ID, f)
					s.Status = p.Entry.Status
					s.RecordIDs = append([]string{}, p.Entry.RecordIDs...)
				}
			case w.Method == "" && len(w.Result) > 0:
				var r struct {
					LedgerID string `json:"ledgerId"`
					ID       string `json:"id"`
				}
				if json.Unmarshal(w.Result, &r) == nil && r.LedgerID != "" {
					if s := see(r.LedgerID, f); len(s.RecordIDs) == 0 && r.ID != "" {
						s.RecordIDs = []string{r.ID}
					}
				}
			case w.Method == "" && len(w.Error) > 0:
				var e struct {
					Data struct {
						LedgerID string `json:"ledgerId"`
					} `json:"data"`
				}
				if json.Unmarshal(w.Error, &e) == nil && e.Data.LedgerID != "" {
					see(e.Data.LedgerID, f)
				}
			}
		}
	}
	out := make([]LedgerState, len(order))
	frames := make([]string, len(order))
	for i, id := range order {
		out[i], frames[i] = *states[id], where[id]
	}
	return out, frames
}

func splitBatch(msg json.RawMessage) []json.RawMessage {
	if m := bytes.TrimSpace(msg); len(m) > 0 && m[0] == '[' {
		var all []json.RawMessage
		if json.Unmarshal(m, &all) == nil {
			return all
		}
	}
	return []json.RawMessage{msg}
}

// errNoLedger: the bridge serves no ledger API.
var errNoLedger = fmt.Errorf("the bridge serves no %s (no retry engine and ledger)", protocol.PathLedger)

// liveLedger reads the live session's ledger entries, oldest first.
func (r *runner) liveLedger(ctx context.Context, session string) ([]LedgerState, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	entries, err := r.admin.Ledger(ctx, client.LedgerFilter{Session: session, Limit: 1000})
	switch {
	case errors.Is(err, client.ErrNotServed):
		return nil, errNoLedger
	case err != nil:
		return nil, fmt.Errorf("read the ledger: %w", err)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Created.Before(entries[j].Created) })
	out := make([]LedgerState, 0, len(entries))
	for _, e := range entries {
		ids := e.RecordIDs
		if ids == nil {
			ids = []string{}
		}
		out = append(out, LedgerState{ID: e.ID, Status: string(e.Status), RecordIDs: ids})
	}
	return out, nil
}

// compareLedger compares the capture's ledger outcome with the live one and
// adds it to the report. Called with mu held, after the frames are settled.
func (r *runner) compareLedger(want []LedgerState, frames []string, got []LedgerState, err error) {
	used := make([]bool, len(got))
	for i, w := range want {
		o := LedgerOutcome{Frame: frames[i], Captured: w}
		what := "ledger entry " + w.ID
		if err != nil {
			r.rep.Ledger = append(r.rep.Ledger, o)
			r.rep.Missing = append(r.rep.Missing, Missing{Frame: o.Frame, What: what + " (" + err.Error() + ")", Want: mustJSON(w)})
			continue
		}
		j := slices.IndexFunc(got, func(g LedgerState) bool { return r.m.bind["g:"+freshKey(w.ID)] == g.ID })
		if j < 0 || used[j] { // the replay never showed the widget this entry: take the next unused one
			j = slices.Index(used, false)
		}
		if j < 0 {
			r.rep.Ledger = append(r.rep.Ledger, o)
			r.rep.Missing = append(r.rep.Missing, Missing{Frame: o.Frame, What: what, Want: mustJSON(w)})
			continue
		}
		used[j] = true
		g := got[j]
		o.Replayed = &g
		// Wrapped so that the entry's "id" is compared (a top-level id is the
		// JSON-RPC id, which the rules skip) and its binding kept.
		diffs := r.m.compare(mustJSON(map[string]any{"entry": w}), mustJSON(map[string]any{"entry": g}), true)
		for k := range diffs {
			diffs[k].Path = strings.TrimPrefix(diffs[k].Path, "entry.")
		}
		o.Matched = len(diffs) == 0
		r.rep.Ledger = append(r.rep.Ledger, o)
		if !o.Matched {
			r.rep.Diverged = append(r.rep.Diverged, Divergence{Frame: o.Frame, What: what, Diffs: diffs, Got: mustJSON(g)})
		}
	}
	for j, g := range got {
		if !used[j] {
			r.rep.Ledger = append(r.rep.Ledger, LedgerOutcome{Captured: LedgerState{RecordIDs: []string{}}, Replayed: &got[j]})
			r.rep.Extra = append(r.rep.Extra, Extra{What: "ledger entry " + g.ID, Got: mustJSON(g)})
		}
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs
	}
	return b
}
