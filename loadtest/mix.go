package loadtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// MixEntry is one method of a Mix with its relative weight.
type MixEntry struct {
	Method string `json:"method"` // wire method, e.g. "cif.createrecord"
	Weight int    `json:"weight"`
}

// Mix is the method mix: each call picks a method with probability
// weight / sum of weights.
type Mix []MixEntry

// DefaultMix is createrecord=5,retrieverecord=3,updaterecord=2: a widget
// logging calls and looking up callers.
func DefaultMix() Mix {
	return Mix{{protocol.MethodCreateRecord, 5}, {protocol.MethodRetrieveRecord, 3}, {protocol.MethodUpdateRecord, 2}}
}

// generators maps every method the load tool can send to its payload.
// enreach.xrm.execute is always a CRUD Create (a logical create the retry
// engine tracks in the ledger like createRecord).
var generators = map[string]func(g *gen, buf []byte) []byte{
	protocol.MethodCreateRecord:         (*gen).createRecord,
	protocol.MethodRetrieveRecord:       (*gen).retrieveRecord,
	protocol.MethodUpdateRecord:         (*gen).updateRecord,
	protocol.MethodDeleteRecord:         (*gen).deleteRecord,
	protocol.MethodSearch:               (*gen).search,
	protocol.MethodSearchAndOpenRecords: (*gen).search,
	protocol.MethodGetEnvironment:       empty,
	protocol.MethodGetMode:              empty,
	protocol.MethodGetClickToAct:        empty,
	protocol.MethodGetWidth:             empty,
	protocol.MethodSetMode:              (*gen).setMode,
	protocol.MethodSetWidth:             (*gen).setWidth,
	protocol.MethodSetClickToAct:        (*gen).setClickToAct,
	protocol.MethodGetEntityMetadata:    (*gen).entityMetadata,
	protocol.MethodXrmCreateRecord:      (*gen).xrmCreate,
	protocol.MethodXrmRetrieveRecord:    (*gen).xrmRetrieve,
	protocol.MethodXrmUpdateRecord:      (*gen).xrmUpdate,
	protocol.MethodXrmExecute:           (*gen).xrmExecuteCreate,
}

// Methods lists the methods a mix may name, sorted.
func Methods() []string {
	out := make([]string, 0, len(generators))
	for m := range generators {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// canonical maps a mix name to its wire method: "createrecord" and
// "cif.createrecord" mean cif.createrecord; "xrm.createRecord" and
// "enreach.xrm.createRecord" mean enreach.xrm.createRecord. Case-insensitive.
func canonical(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for m := range generators {
		l := strings.ToLower(m)
		if n == l || "cif."+n == l || "enreach."+n == l {
			return m, true
		}
	}
	return "", false
}

// ParseMix parses "createrecord=5,retrieverecord=3,xrm.createRecord=1".
// A method without "=weight" has weight 1.
func ParseMix(s string) (Mix, error) {
	var mix Mix
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		m, ok := canonical(name)
		if !ok {
			return nil, usagef("--mix: unknown method %q; known: %s", name, strings.Join(Methods(), ", "))
		}
		weight := 1
		if hasW {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 0 {
				return nil, usagef("--mix: weight of %s must be a whole number >= 0, got %q", name, w)
			}
			weight = n
		}
		if seen[m] {
			return nil, usagef("--mix: %s is named twice", m)
		}
		seen[m] = true
		if weight > 0 {
			mix = append(mix, MixEntry{Method: m, Weight: weight})
		}
	}
	if len(mix) == 0 {
		return nil, usagef("--mix %q names no method with a weight above 0", s)
	}
	return mix, nil
}

// String formats the mix as ParseMix reads it.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = fmt.Sprintf("%s=%d", e.Method, e.Weight)
	}
	return strings.Join(parts, ",")
}

// picker draws methods by weight.
type picker struct {
	methods []string
	cum     []int
	total   int
}

func newPicker(m Mix) picker {
	var p picker
	for _, e := range m {
		p.total += e.Weight
		p.methods = append(p.methods, e.Method)
		p.cum = append(p.cum, p.total)
	}
	return p
}

func (p *picker) pick(r int) string {
	r %= p.total
	for i, c := range p.cum {
		if r < c {
			return p.methods[i]
		}
	}
	return p.methods[len(p.methods)-1]
}
