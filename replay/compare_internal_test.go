package replay

import (
	"encoding/json"
	"testing"
)

// TestGUIDConflictNote: a divergence on a GUID names the earlier binding it
// broke, whichever side it came from (before, the reverse side printed an
// empty "was bound to  earlier").
func TestGUIDConflictNote(t *testing.T) {
	const (
		capA  = "11111111-1111-4111-8111-111111111111"
		capB  = "22222222-2222-4222-8222-222222222222"
		liveA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
		liveB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	)
	for _, tc := range []struct {
		name      string
		want, got string
		note      string
	}{
		{name: "captured GUID bound to another", want: capA, got: liveB, note: "GUID " + capA + " was bound to " + liveA + " earlier in this session"},
		{name: "replay's GUID bound to another", want: capB, got: liveA, note: "the replay's GUID " + liveA + " stood for the captured " + capA + " earlier in this session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMatcher(Rules{})
			if d := m.compare(json.RawMessage(`{"contactid":"`+capA+`"}`), json.RawMessage(`{"contactid":"`+liveA+`"}`), true); len(d) != 0 {
				t.Fatalf("binding %s to %s: %+v", capA, liveA, d)
			}
			d := m.compare(json.RawMessage(`{"contactid":"`+tc.want+`"}`), json.RawMessage(`{"contactid":"`+tc.got+`"}`), true)
			if len(d) != 1 || d[0].Note != tc.note {
				t.Fatalf("diffs = %+v, want one with note %q", d, tc.note)
			}
		})
	}
}
