package emulator

import (
	"testing"

	"github.com/google/uuid"
)

// TestIDSourceRandomV4 draws past several refills: every GUID is a
// version 4, RFC 4122 variant GUID, and none repeats.
func TestIDSourceRandomV4(t *testing.T) {
	var s idSource
	seen := map[uuid.UUID]bool{}
	for i := range 3*256 + 7 {
		u := s.newID()
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("GUID %d %s: version %d variant %v, want 4 and RFC 4122", i, u, u.Version(), u.Variant())
		}
		if got := string(appendGUID(nil, u)); got != u.String() {
			t.Fatalf("appendGUID %s, want %s", got, u)
		}
		if seen[u] {
			t.Fatalf("GUID %d %s repeats", i, u)
		}
		seen[u] = true
	}
}
