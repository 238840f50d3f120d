package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report is the outcome of replaying (or comparing) captures.
type Report struct {
	Sessions []*SessionReport `json:"sessions"`
}

// OK reports whether every session matched.
func (r *Report) OK() bool {
	for _, s := range r.Sessions {
		if !s.OK() {
			return false
		}
	}
	return true
}

// SessionReport is one session's outcome.
type SessionReport struct {
	File        string       `json:"file"`
	Session     string       `json:"session"`               // the captured session id
	LiveSession string       `json:"liveSession,omitempty"` // the replay's, when known
	Mode        string       `json:"mode,omitempty"`
	Matched     int          `json:"matched"`
	Diverged    []Divergence `json:"diverged"`
	Missing     []Missing    `json:"missing"`
	Extra       []Extra      `json:"extra"`
	// Ledger is the duplicate-ledger outcome, captured against replayed,
	// for captures that need the ledger (Capture.NeedsLedger).
	Ledger []LedgerOutcome `json:"ledger,omitempty"`
}

// OK reports whether everything matched.
func (s *SessionReport) OK() bool {
	return len(s.Diverged) == 0 && len(s.Missing) == 0 && len(s.Extra) == 0
}

// Divergence is a captured frame whose replayed counterpart differs.
type Divergence struct {
	Frame string          `json:"frame"` // file:line of the captured frame
	What  string          `json:"what"`  // "answer to cif.createrecord", "bridge.late", "event cif.onclicktoact", …
	Diffs []Diff          `json:"diffs"`
	Got   json.RawMessage `json:"got"`
}

// Missing is a captured frame the replay never produced.
type Missing struct {
	Frame string          `json:"frame"`
	What  string          `json:"what"`
	Want  json.RawMessage `json:"want"`
}

// Extra is a replayed message the capture does not have.
type Extra struct {
	What string          `json:"what"`
	Got  json.RawMessage `json:"got"`
}

func (s *SessionReport) init() {
	s.Diverged, s.Missing, s.Extra = []Divergence{}, []Missing{}, []Extra{}
}

// WriteText writes the human-readable report.
func (r *Report) WriteText(w io.Writer) {
	for _, s := range r.Sessions {
		status := "OK"
		if !s.OK() {
			status = "DIVERGED"
		}
		live := ""
		if s.LiveSession != "" && s.LiveSession != s.Session {
			live = " → " + s.LiveSession
		}
		fmt.Fprintf(w, "%s %s (session %s%s): %d matched, %d diverged, %d missing, %d extra\n",
			status, s.File, s.Session, live, s.Matched, len(s.Diverged), len(s.Missing), len(s.Extra))
		for _, l := range s.Ledger {
			got := "none"
			if l.Replayed != nil {
				got = l.Replayed.String()
			}
			want := l.Captured.String()
			if l.Captured.ID == "" {
				want = "none"
			}
			mark := "matched"
			if !l.Matched {
				mark = "DIVERGED"
			}
			fmt.Fprintf(w, "  ledger   %s → replay %s: %s\n", want, got, mark)
		}
		for _, d := range s.Diverged {
			fmt.Fprintf(w, "  diverged %s %s:\n", d.Frame, d.What)
			for _, x := range d.Diffs {
				fmt.Fprintf(w, "    %s\n", x)
			}
		}
		for _, m := range s.Missing {
			fmt.Fprintf(w, "  missing  %s %s: %s\n", m.Frame, m.What, short(m.Want))
		}
		for _, e := range s.Extra {
			fmt.Fprintf(w, "  extra    %s: %s\n", e.What, short(e.Got))
		}
	}
	n, bad := len(r.Sessions), 0
	for _, s := range r.Sessions {
		if !s.OK() {
			bad++
		}
	}
	word := "sessions"
	if n == 1 {
		word = "session"
	}
	fmt.Fprintf(w, "%d %s replayed, %s\n", n, word, map[bool]string{true: "all matched", false: fmt.Sprintf("%d diverged", bad)}[bad == 0])
}

// describe names a message for the report.
func describe(kind, method string) string {
	switch kind {
	case kindResponse:
		return "answer to " + method
	case kindEvent:
		return "event " + method
	case kindNotify:
		return "notification " + method
	case kindBackend:
		return "backend call " + method
	case kindEventAnswer:
		return "event answer to " + method
	}
	return strings.TrimSpace(kind + " " + method)
}
