package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// TestApplyCreateIsApplyWrite: the row and lookup targets applyCreate
// stores for a create are byte for byte those of applyWrite's general
// merge, for random write sets of every entity: columns written twice,
// columns the tail replaces (fullname, the key, createdon, modifiedon,
// versionnumber, the owner, creator and modifier) or gives way to
// (statecode, statuscode), binds (set and cleared, also to a default's
// column), columns past colsEnd (an upsert's key), and more written
// columns than firstWrite's marks hold.
func TestApplyCreateIsApplyWrite(t *testing.T) {
	e := lockedEmulator(t, Config{})
	rnd := rand.New(rand.NewPCG(19, 1))
	logicals := slices.Sorted(maps.Keys(e.cat.byLogical))
	// A stored record of every entity, for the binds to point to.
	stored := map[string]uuid.UUID{}
	for _, l := range logicals {
		k := uuid.New()
		e.store.table(l)[k] = &record{id: k}
		stored[l] = k
	}
	tested := 0
	for round := range 4000 {
		ent := e.cat.byLogical[logicals[rnd.IntN(len(logicals))]]
		if ent.createTail == nil {
			continue
		}
		tested++
		names := []string{"firstname", "lastname", "fullname", "subject", "jobtitle", colStateCode, colStatusCode,
			ent.PrimaryIDAttribute, colCreatedOn, colModifiedOn, colVersionNumber, "_ownerid_value", "_createdby_value", "description"}
		for c := range ent.writable {
			names = append(names, c)
		}
		slices.Sort(names[14:])
		ws := &writeSet{}
		count := rnd.IntN(12)
		if round%50 == 0 {
			count = maxFirstWrite + rnd.IntN(20) // past the marks on the stack
		}
		for i := range count {
			name := names[rnd.IntN(len(names))]
			ws.starts = append(ws.starts, len(ws.fields))
			switch rnd.IntN(4) {
			case 0:
				ws.fields = appendText(ws.fields, name, kindNumber, fmt.Sprint(i))
			case 1:
				ws.fields = appendText(ws.fields, name, kindNull, "")
			default:
				ws.fields = appendText(ws.fields, name, kindString, fmt.Sprint("v", round, ".", i))
			}
		}
		ws.colsEnd = len(ws.fields)
		ws.keyFree = ws.colsEnd
		if rnd.IntN(4) == 0 { // past colsEnd, as an upsert appends its key
			ws.fields = appendColumn(ws.fields, ent.PrimaryIDAttribute, uuid.NewString())
		}
		lookups := slices.Sorted(maps.Keys(ent.Lookups))
		for range rnd.IntN(3) {
			if len(lookups) == 0 {
				break
			}
			l := lookups[rnd.IntN(len(lookups))]
			b := bind{lookup: l}
			if targets := ent.Lookups[l]; len(targets) > 0 && rnd.IntN(3) > 0 {
				b.target = targets[rnd.IntN(len(targets))]
				if _, ok := stored[b.target]; !ok {
					continue
				}
				b.id = stored[b.target]
			}
			ws.binds = append(ws.binds, b)
		}
		id := []byte(uuid.NewString())
		now := "2026-12-04T03:04:05Z"
		version := int64(rnd.IntN(1 << 40))

		got := &record{}
		if derr := e.applyCreate(ent, got, ws, version, id, now); derr != nil {
			t.Fatalf("applyCreate: %s", derr.Message)
		}
		want := &record{}
		if derr := e.applyWrite(ent, want, ws, version, true, col{ent.PrimaryIDAttribute, id}, col{colCreatedOn, now}, col{colModifiedOn, now}); derr != nil {
			t.Fatalf("applyWrite: %s", derr.Message)
		}
		if !bytes.Equal(got.fields, want.fields) || !bytes.Equal(got.targets, want.targets) {
			t.Fatalf("round %d, %s: applyCreate stores\n%s%s\napplyWrite\n%s%s", round, ent.LogicalName,
				dumpRow(got.fields, nil), dumpRow(got.targets, nil), dumpRow(want.fields, nil), dumpRow(want.targets, nil))
		}
		if cap(got.fields) != len(got.fields) {
			t.Fatalf("row of %d bytes keeps a capacity of %d", len(got.fields), cap(got.fields))
		}
	}
	if tested < 1000 {
		t.Fatalf("only %d creates compared", tested)
	}
}

// TestApplyCreateBindNotFound: a bind to a record that is not stored
// fails applyCreate with the 404 applyWrite gives, and stores nothing.
func TestApplyCreateBindNotFound(t *testing.T) {
	e := lockedEmulator(t, Config{})
	ent := e.cat.byLogical["phonecall"]
	missing := uuid.New()
	ws := &writeSet{binds: []bind{{lookup: "regardingobjectid", target: "contact", id: missing}}}
	r := &record{}
	derr := e.applyCreate(ent, r, ws, 1, []byte(uuid.NewString()), "2026-12-04T03:04:05Z")
	if derr == nil || derr.Status != 404 {
		t.Fatalf("bind to a missing contact: %v, want a 404", derr)
	}
	if r.fields != nil || r.targets != nil {
		t.Fatalf("stored %q / %q for a failed create", r.fields, r.targets)
	}
}

// TestCreateTailNeedsDistinctNames: an entity whose primary key is named
// like a column every create ends with gets no createTail, and its creates
// (the general merge) store each column once, the key's value the new id.
func TestCreateTailNeedsDistinctNames(t *testing.T) {
	for _, key := range []string{colCreatedOn, colModifiedOn, colVersionNumber, "_ownerid_value", colStateCode, "firstname", "lastname"} {
		ent := &entity{EntityMeta: EntityMeta{LogicalName: "odd", PrimaryIDAttribute: key}}
		ent.packDefaults(uuid.NewString())
		if ent.createTail != nil {
			t.Errorf("a tail of names %q for a key named %s", ent.createTail.names, key)
		}
	}
	contact := &entity{EntityMeta: EntityMeta{LogicalName: "contact", PrimaryIDAttribute: "contactid"}}
	contact.packDefaults(uuid.NewString())
	if contact.createTail == nil {
		t.Fatal("no tail for contact")
	}
	for _, n := range []string{"contactid", colCreatedOn, colModifiedOn, colVersionNumber, "_ownerid_value"} {
		if !contact.createTail.has([]byte(n), nameHash([]byte(n))) {
			t.Errorf("the tail misses %s", n)
		}
	}
	for _, n := range []string{colStateCode, colStatusCode, "firstname", "fullname"} {
		if contact.createTail.has([]byte(n), nameHash([]byte(n))) {
			t.Errorf("the tail has %s", n)
		}
	}

	e := lockedEmulator(t, Config{})
	odd := &entity{EntityMeta: EntityMeta{LogicalName: "contact", PrimaryIDAttribute: colCreatedOn}}
	odd.packDefaults(e.ids.UserID)
	ws := &writeSet{}
	ws.fields = appendText(ws.fields, "lastname", kindString, "x")
	ws.starts = []int{0}
	ws.colsEnd, ws.keyFree = len(ws.fields), len(ws.fields)
	r := &record{}
	id := uuid.NewString()
	if derr := e.applyCreate(odd, r, ws, 7, []byte(id), "now"); derr != nil {
		t.Fatal(derr.Message)
	}
	seen := map[string]int{}
	for name := range r.fields.all() {
		seen[name]++
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s stored %d times", name, n)
		}
	}
	if got := r.fields.get(colCreatedOn); got != "now" {
		t.Errorf("%s = %v, want the createdon written after the key", colCreatedOn, got)
	}
	if got := r.fields.get(colVersionNumber); got != json.Number("7") {
		t.Errorf("versionnumber = %v", got)
	}
}
