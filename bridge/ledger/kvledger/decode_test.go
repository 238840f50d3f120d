package kvledger

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/ledger"
)

// FuzzDecode: whatever a bucket holds under entry.*, decoding it never
// panics, and an entry it accepts has its lists non-nil and encodes back.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"L1","created":"2026-12-01T09:00:00Z","updated":"2026-12-01T09:00:00Z","status":"suspected","version":1,"everSuspected":true}`))
	f.Add([]byte(`{"attempts":null,"recordIds":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"created":"yesterday"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decode(b)
		if err != nil {
			return
		}
		if r.Attempts == nil || r.RecordIDs == nil {
			t.Fatalf("nil lists: %+v", r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// entryKey takes only subject-safe ids, so no id can widen a watch or
// reach meta.pruned.
func TestEntryKey(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"new id", "L01a23c52afc173178d81aa6930d0d09f", "entry.L01a23c52afc173178d81aa6930d0d09f"},
		{"dash and underscore", "a-b_c", "entry.a-b_c"},
		{"empty", "", ""},
		{"dot", "meta.pruned", ""},
		{"wildcard", "*", ""},
		{"tail wildcard", ">", ""},
		{"space", "a b", ""},
		{"unicode", "é", ""},
		{"too long", string(make([]byte, 129)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := entryKey(tt.id)
			if got != tt.want || (tt.want == "") != errors.Is(err, ledger.ErrInvalid) {
				t.Fatalf("entryKey(%q) = %q, %v; want %q", tt.id, got, err, tt.want)
			}
		})
	}
}
