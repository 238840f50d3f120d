package loadtest

import (
	"strings"
	"testing"
)

// The text report is for people: counts per name as "a 3, b 12", never Go's
// map or struct syntax.
func TestWriteTextHasNoGoSyntax(t *testing.T) {
	rep := &Report{
		ErrorsByCode: map[string]int64{"-32000": 2},
		Methods:      map[string]MethodReport{"cif.createrecord": {}},
		Duplicates:   Duplicates{Suspected: 3, Confirmed: 1, Ledger: map[string]int64{"confirmed": 1, "suspected": 2}},
		GroundTruth: &GroundTruth{
			Operations: map[string]int64{"createrecord": 110, "execute": 41},
			Records:    map[string]int{"phonecall": 42, "contact": 109},
		},
	}
	rep.Config.Model = "open"
	var b strings.Builder
	rep.WriteText(&b)
	out := b.String()
	for _, bad := range []string{"map[", "{", "}", "&"} {
		if strings.Contains(out, bad) {
			t.Errorf("report shows Go syntax %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{
		"ledger entries: confirmed 1, suspected 2",
		"operations: createrecord 110, execute 41",
		"records added: contact 109, phonecall 42",
		"errors by code: -32000×2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if got := counts(map[string]int{}); got != "none" {
		t.Errorf("counts of nothing = %q, want none", got)
	}
}
