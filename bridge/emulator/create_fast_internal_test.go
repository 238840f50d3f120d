package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/protocol"
)

// createResultGUID gives, byte for byte, what createResult gives for the
// key's canonical text, for any entity name and any key.
func TestCreateResultGUIDMatchesCreateResult(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 8))
	for _, name := range []string{"contact", "new_Ticket", `odd"name\with`, "ünïcode", "a<b>&c"} {
		ent := &entity{EntityMeta: EntityMeta{LogicalName: name}}
		ent.packDefaults(stableGUID("userId")) // as New does
		for range 200 {
			var k uuid.UUID
			for i := range k {
				k[i] = byte(r.Uint32())
			}
			want, err := createResult(ent, k.String())
			if err != nil {
				t.Fatal(err)
			}
			if got := createResultGUID(ent, k); string(got) != string(want) {
				t.Fatalf("createResultGUID(%q, %s) = %s, createResult gives %s", name, k, got, want)
			}
			var res protocol.CreateResult
			if err := json.Unmarshal(want, &res); err != nil || res.EntityType != name || res.ID != k.String() {
				t.Fatalf("%s decodes to %+v (%v)", want, res, err)
			}
		}
	}
}

// withString is with of a one-column patch, on rows with and without the
// column, at every place in the row.
func TestWithStringIsWith(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 9))
	names := []string{"a", "parentcustomerid", "regardingobjectid", "ownerid", "x"}
	for range 2000 {
		var stored row
		for _, name := range names {
			if r.IntN(2) == 0 {
				stored = appendColumn(stored, name, fmt.Sprint(r.IntN(1000)))
			}
		}
		name := names[r.IntN(len(names))]
		text := strings.Repeat("t", r.IntN(300)) // past one byte of length too
		want := stored.with(appendColumn(nil, name, text))
		got := stored.withString(name, text)
		if !bytes.Equal(got, want) {
			t.Fatalf("%q.withString(%q, %q) = %q, with gives %q", stored, name, text, got, want)
		}
		if cap(got) != len(got) {
			t.Fatalf("withString kept %d bytes of spare capacity", cap(got)-len(got))
		}
	}
}
