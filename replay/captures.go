package replay

import (
	"bytes"

	"github.com/cifbridge/cifbridge/protocol"
)

// Compare compares the widget side of two captures of the same session
// (e.g. a live capture and the capture of its replay) under the rules:
// requests pair up in order, answers through their requests, events and
// notifications in order per method, event answers through their events.
// Backend frames are not compared (attempts legitimately differ in timing).
func Compare(want, got *Capture, rules Rules) *SessionReport {
	if want.Header.Source == protocol.CaptureSourcePostMessage || got.Header.Source == protocol.CaptureSourcePostMessage {
		rules.LooseStrings = true
	}
	m := newMatcher(rules)
	rep := &SessionReport{File: want.Name(), Session: want.Header.Session, LiveSession: got.Header.Session, Mode: "compare"}
	rep.init()
	g := index(got)
	used := map[*Frame]bool{}
	w := index(want)
	// Pair requests (ids) first so requestId and answers map.
	for i, f := range w.reqs {
		if i < len(g.reqs) {
			fw, _ := parseWire(f.Msg)
			gw, _ := parseWire(g.reqs[i].Msg)
			m.ids[string(fw.ID)] = string(gw.ID)
		}
	}
	seen := map[string]int{}
	reqN := 0
	for i := range want.Frames {
		f := &want.Frames[i]
		if f.Peer != protocol.CapturePeerWidget {
			continue
		}
		fw, _ := parseWire(f.Msg)
		var other *Frame
		kind, method := kindResponse, fw.Method
		switch {
		case f.Invalid || bytes.TrimSpace(f.Msg)[0] == '[':
			kind = "frame"
			other = w.nth(g, f, seen)
		case f.Dir == protocol.CaptureDirIn && fw.Method != "":
			kind = "request"
			if len(fw.ID) > 0 {
				if reqN < len(g.reqs) {
					other = g.reqs[reqN]
				}
				reqN++
			} else {
				kind = kindNotify
				other = w.nth(g, f, seen)
			}
		case f.Dir == protocol.CaptureDirIn: // event answer
			kind = kindEventAnswer
			if ev := w.eventByID[string(fw.ID)]; ev != nil {
				if gev := w.pairEv[ev]; gev != nil {
					gw, _ := parseWire(gev.Msg)
					other = g.answerByID[string(gw.ID)]
				}
			}
		case fw.Method != "" && len(fw.ID) > 0:
			kind = kindEvent
			other = w.nth(g, f, seen)
			if other != nil {
				w.pairEv[f] = other
			}
		case fw.Method != "":
			kind = kindNotify
			other = w.nth(g, f, seen)
		default:
			if live, ok := m.ids[string(fw.ID)]; ok {
				other = g.respByID[live]
				method = w.methodByID[string(fw.ID)]
			} else if string(fw.ID) == "null" {
				other = w.nth(g, f, seen)
			}
		}
		if other == nil || used[other] {
			rep.Missing = append(rep.Missing, Missing{Frame: f.Where(), What: describe(kind, method), Want: f.Msg})
			continue
		}
		used[other] = true
		if d := m.compare(f.Msg, other.Msg, true, helloIgnore(method)...); len(d) > 0 {
			rep.Diverged = append(rep.Diverged, Divergence{Frame: f.Where(), What: describe(kind, method) + " (vs " + other.Where() + ")", Diffs: d, Got: other.Msg})
		} else {
			rep.Matched++
		}
	}
	for i := range got.Frames {
		f := &got.Frames[i]
		if f.Peer == protocol.CapturePeerWidget && !used[f] {
			fw, _ := parseWire(f.Msg)
			rep.Extra = append(rep.Extra, Extra{What: f.Where() + " " + f.Dir + " " + fw.Method, Got: f.Msg})
		}
	}
	return rep
}

type capIndex struct {
	reqs       []*Frame
	respByID   map[string]*Frame
	answerByID map[string]*Frame
	eventByID  map[string]*Frame
	methodByID map[string]string
	byKey      map[string][]*Frame // dir+method (or "invalid"/"batch"/"null") → frames in order
	pairEv     map[*Frame]*Frame
}

func frameKey(f *Frame) string {
	if f.Invalid {
		return f.Dir + " invalid"
	}
	if bytes.TrimSpace(f.Msg)[0] == '[' {
		return f.Dir + " batch"
	}
	w, _ := parseWire(f.Msg)
	if w.Method == "" {
		return f.Dir + " response " + string(w.ID)
	}
	return f.Dir + " " + w.Method
}

func index(c *Capture) *capIndex {
	x := &capIndex{respByID: map[string]*Frame{}, answerByID: map[string]*Frame{}, eventByID: map[string]*Frame{},
		methodByID: map[string]string{}, byKey: map[string][]*Frame{}, pairEv: map[*Frame]*Frame{}}
	for i := range c.Frames {
		f := &c.Frames[i]
		if f.Peer != protocol.CapturePeerWidget {
			continue
		}
		x.byKey[frameKey(f)] = append(x.byKey[frameKey(f)], f)
		if f.Invalid || bytes.TrimSpace(f.Msg)[0] == '[' {
			continue
		}
		w, _ := parseWire(f.Msg)
		id := string(w.ID)
		switch {
		case f.Dir == protocol.CaptureDirIn && w.Method != "" && len(w.ID) > 0:
			x.reqs = append(x.reqs, f)
			x.methodByID[id] = w.Method
		case f.Dir == protocol.CaptureDirIn && w.Method == "":
			x.answerByID[id] = f
		case w.Method != "" && len(w.ID) > 0:
			x.eventByID[id] = f
		case w.Method == "":
			x.respByID[id] = f
		}
	}
	return x
}

// nth returns the frame of got with the same key and the same rank as f has
// in want.
func (x *capIndex) nth(g *capIndex, f *Frame, seen map[string]int) *Frame {
	k := frameKey(f)
	n := seen[k]
	seen[k]++
	if l := g.byKey[k]; n < len(l) {
		return l[n]
	}
	return nil
}
