package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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

// A write's row does not depend on the writes before it: applyWrite's
// scratch buffers (patch, cols), reused under the lock, carry nothing
// from one write to the next. Each create and update in a shuffled run
// stores the row the same write stores in a fresh emulator.
func TestWriteScratchCarriesNothing(t *testing.T) {
	clock := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	cfg := Config{Now: func() time.Time { return clock }}
	type write struct {
		logical, body string
		update        bool
	}
	const acct = "abcdef01-2345-4678-9abc-def012345678"
	writes := []write{
		{"contact", `{"contactid":"11111111-1111-4111-8111-111111111111","firstname":"Aino","lastname":"Virtanen","fullname":"x","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"a@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}`, false},
		{"contact", `{"contactid":"22222222-2222-4222-8222-222222222222","lastname":"One","statecode":1,"statuscode":2,"parentcustomerid_account@odata.bind":"/accounts(` + acct + `)"}`, false},
		{"task", `{"activityid":"33333333-3333-4333-8333-333333333333","subject":"Call back"}`, false},
		{"phonecall", `{"activityid":"44444444-4444-4444-8444-444444444444","subject":"In","directioncode":true,"regardingobjectid_account_phonecall@odata.bind":"/accounts(` + acct + `)"}`, false},
		{"contact", `{"contactid":"11111111-1111-4111-8111-111111111111","jobtitle":"Seller","firstname":"Ada"}`, true},
	}
	ents := func(e *Emulator, w write) (*entity, *writeSet) {
		ent := e.cat.byLogical[w.logical]
		ws, derr := parseWrite(ent, []byte(w.body), e.cat)
		if derr != nil {
			t.Fatalf("%s: %s", w.body, derr.Message)
		}
		return ent, ws
	}
	run := func(e *Emulator, w write) string {
		ent, ws := ents(e, w)
		id := ws.fields.str(ent.PrimaryIDAttribute)
		var r *record
		var derr *dvError
		if w.update {
			r, _, derr = e.update(ent, id, ws, false, writeOpts{})
		} else {
			r, derr = e.create(ent, ws, writeOpts{})
		}
		if derr != nil {
			t.Fatalf("%s: %s", w.body, derr.Message)
		}
		// The row version counts the writes before: the one thing that may differ.
		version := regexp.MustCompile(`(?m)^versionnumber 0 "[0-9]+"$`)
		return version.ReplaceAllString(dumpRow(r.fields, nil), `versionnumber 0 "n"`) + "targets:\n" + dumpRow(r.targets, nil)
	}
	fresh := func(upto int) string { // w's row after the creates it needs, in a new emulator
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		run(e, write{"account", `{"accountid":"` + acct + `","name":"Contoso"}`, false})
		if writes[upto].update {
			run(e, writes[0])
		}
		return run(e, writes[upto])
	}
	want := make([]string, len(writes))
	for i := range writes {
		want[i] = fresh(i)
	}
	r := rand.New(rand.NewPCG(19, 10))
	for range 20 {
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		run(e, write{"account", `{"accountid":"` + acct + `","name":"Contoso","description":"a longer row first","telephone1":"+358400000000"}`, false})
		order := r.Perm(len(writes) - 1)
		order = append(order, len(writes)-1) // the update after its create
		for _, i := range order {
			if got := run(e, writes[i]); got != want[i] {
				t.Fatalf("write %d after others stored:\n%s\nin a fresh emulator:\n%s", i, got, want[i])
			}
		}
	}
}

// resolveLookup, with its table of polymorphic names, answers what
// Dataverse's naming rule written plainly answers (refResolveLookup), for
// every entity of the built-in and example metadata and every name built
// from their lookups.
func TestResolveLookupTable(t *testing.T) {
	schema, err := os.ReadFile("testdata/schema-example.json")
	if err != nil {
		t.Fatal(err)
	}
	custom := []byte(`{"entities": [
		{"logicalName": "new_ticket", "entitySetName": "new_tickets", "primaryIdAttribute": "new_ticketid"},
		{"logicalName": "new_ticketline", "entitySetName": "new_ticketlines", "primaryIdAttribute": "new_ticketlineid"},
		{"logicalName": "phonecall", "lookups": {"regardingobjectid": ["contact", "new_ticket", "new_ticketline"]}}]}`)
	for _, cfg := range []Config{{}, {Schema: schema}, {Schema: custom}} {
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range e.cat.names {
			ent := e.cat.byLogical[name]
			navs := []string{"", "_", "x", "regardingobjectid_", "parentcustomerid_contact_x"}
			for l, targets := range ent.Lookups {
				navs = append(navs, l, l+"_", l+"_x", "x"+l)
				for _, tg := range targets {
					navs = append(navs, l+"_"+tg, l+"_"+tg+"_phonecall", l+"_"+tg+"_", l+"_"+tg+"x", tg)
				}
			}
			for _, nav := range navs {
				l, tg, ok := ent.resolveLookup(nav)
				wl, wt, wok := refResolveLookup(ent, nav)
				if l != wl || tg != wt || ok != wok {
					t.Errorf("%s.resolveLookup(%q) = %q %q %v, the scan gives %q %q %v", name, nav, l, tg, ok, wl, wt, wok)
				}
			}
			if got, want := ent.lookupNames(), slices.Sorted(maps.Keys(ent.Lookups)); !slices.Equal(got, want) {
				t.Errorf("%s.lookupNames() = %q, want %q", name, got, want)
			}
		}
	}
}

// refResolveLookup is resolveLookup written plainly, without the table:
// Dataverse names the navigation property of a lookup with one target
// after the lookup, and gives a polymorphic lookup one per target,
// "<lookup>_<target>", on an activity "<lookup>_<target>_<activity>"; the
// lookups are tried sorted, their targets in order, and a name that is a
// lookup's own is that lookup's.
func refResolveLookup(e *entity, nav string) (lookup, target string, ok bool) {
	if targets, ok := e.Lookups[nav]; ok {
		if len(targets) <= 1 {
			return nav, "", true
		}
		return "", "", false
	}
	for _, l := range slices.Sorted(maps.Keys(e.Lookups)) {
		if len(e.Lookups[l]) < 2 {
			continue
		}
		for _, t := range e.Lookups[l] {
			name := l + "_" + t
			if e.PrimaryIDAttribute == "activityid" {
				name += "_" + e.LogicalName
			}
			if name == nav {
				return l, t, true
			}
		}
	}
	return "", "", false
}

// navName gives the name it is given, for the entity's polymorphic names
// and any other.
func TestNavName(t *testing.T) {
	e := newEmulator(t, Config{})
	ent := e.cat.byLogical["phonecall"]
	for _, nav := range []string{"regardingobjectid_contact_phonecall", "regardingobjectid_account_phonecall", "regardingobjectid_contact", "regardingobjectid", "regardingobjectid_contact_x", "nope", ""} {
		if got := ent.navName([]byte(nav)); got != nav {
			t.Errorf("navName(%q) = %q", nav, got)
		}
	}
	if len(ent.navs) == 0 {
		t.Fatal("phonecall has no polymorphic navigation names in its table")
	}
}
