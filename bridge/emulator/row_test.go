package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

func rowMap(r row) map[string]any {
	m := map[string]any{}
	for k, v := range r.all() {
		if _, dup := m[k]; dup {
			panic("row holds column " + k + " twice")
		}
		m[k] = v
	}
	return m
}

// patchOf packs cols as a patch.
func patchOf(cols ...col) row {
	var p row
	for _, c := range cols {
		p = appendColumn(p, c.name, c.val)
	}
	return p
}

func TestRowWithAndGet(t *testing.T) {
	long := strings.Repeat("x", 300) // length needs a two-byte uvarint
	r := row(nil).with(patchOf(
		col{"firstname", "Ada"}, col{"statecode", json.Number("0")}, col{"donotcall", true},
		col{"donotemail", false}, col{"address1_city", nil}, col{"description", long}, col{"empty", ""},
	))
	want := map[string]any{
		"firstname": "Ada", "statecode": json.Number("0"), "donotcall": true,
		"donotemail": false, "address1_city": nil, "description": long, "empty": "",
	}
	if got := rowMap(r); !maps.Equal(got, want) {
		t.Fatalf("row = %v, want %v", got, want)
	}
	for k, v := range want {
		if got := r.get(k); got != v {
			t.Errorf("get(%q) = %#v, want %#v", k, got, v)
		}
	}
	if r.get("missing") != nil || r.str("missing") != "" || r.str("statecode") != "" {
		t.Error("a missing or non-string column must read as nil / \"\"")
	}
	if _, _, ok := r.find("address1_city"); !ok {
		t.Error("a null column is set, not missing")
	}

	// with: replaces in place, appends new columns in order, the last write wins,
	// and leaves the original row as it was.
	before := string(r)
	r2 := r.with(patchOf(col{"lastname", "Lovelace"}, col{"firstname", "Augusta"}, col{"firstname", "Ada"}, col{"statecode", nil}, col{"zz", "1"}, col{"lastname", "Lovelace"}))
	if string(r) != before {
		t.Fatal("with changed the row it was called on")
	}
	if cap(r2) != len(r2) {
		t.Errorf("with left %d bytes of spare capacity in a row that is kept as is", cap(r2)-len(r2))
	}
	want2 := maps.Clone(want)
	want2["lastname"], want2["statecode"], want2["zz"] = "Lovelace", nil, "1"
	if got := rowMap(r2); !maps.Equal(got, want2) {
		t.Fatalf("with = %v, want %v", got, want2)
	}
	var order []string
	for k := range r2.all() {
		order = append(order, k)
	}
	if strings.Join(order, ",") != "firstname,statecode,donotcall,donotemail,address1_city,description,empty,zz,lastname" {
		t.Errorf("column order %v", order)
	}

	r3 := r2.without("description")
	delete(want2, "description")
	if got := rowMap(r3); !maps.Equal(got, want2) {
		t.Fatalf("without = %v, want %v", got, want2)
	}
	if got := rowMap(r3.without("nothing")); !maps.Equal(got, want2) {
		t.Fatal("without a missing column must keep the row")
	}
}

// A row written by any sequence of with/without reads back as the same
// sequence applied to a map.
func FuzzRowAgainstMap(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0, 0, 7, 9})
	f.Add([]byte{0, 1, 0, 2, 1, 3, 0, 254, 1, 255, 1, 4, 4, 4, 1, 5, 0, 254})
	f.Add([]byte("the quick brown fox jumps over the lazy dog"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		names := []string{"a", "firstname", "_regardingobjectid_value", "", "statecode"}
		vals := []any{nil, "", "Ada", json.Number("-1.5e3"), true, false, strings.Repeat("é", 90)}
		var r, patch row
		m := map[string]any{}
		pending := map[string]any{}
		for i := 0; i+1 < len(ops); i += 2 {
			name := names[int(ops[i])%len(names)]
			switch ops[i+1] {
			case 255:
				r = r.without(name)
				delete(m, name)
				continue
			case 254: // apply the patch so far, duplicates and all
				r = r.with(patch)
				maps.Copy(m, pending)
				patch, pending = nil, map[string]any{}
				continue
			}
			v := vals[int(ops[i+1])%len(vals)]
			patch = appendColumn(patch, name, v)
			pending[name] = v
		}
		r = r.with(patch)
		maps.Copy(m, pending)
		if got := rowMap(r); !maps.Equal(got, m) {
			t.Fatalf("row %v, map %v", got, m)
		}
	})
}

// Column names longer than a row can hold are refused when the metadata
// is loaded, not when a record is written.
func TestCatalogRefusesLongColumnNames(t *testing.T) {
	ents := builtinEntities()
	ents[0].Attributes = append(ents[0].Attributes, strings.Repeat("c", maxColumnName+1))
	if _, err := newCatalog(ents); err == nil || !strings.Contains(err.Error(), "longer than 255") {
		t.Fatalf("err = %v, want a column-name length error", err)
	}
}

// compareFold orders as comparing the lower-cased strings does.
func FuzzCompareFold(f *testing.F) {
	for _, s := range [][2]string{{"Ada", "ada"}, {"ÄBC", "äbd"}, {"İ", "i"}, {"a\xff", "a"}, {"", "x"}, {"straße", "STRASSE"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		want := strings.Compare(strings.ToLower(a), strings.ToLower(b))
		if got := compareFold([]byte(a), b); got != want {
			t.Fatalf("compareFold(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

// appendLower lower-cases as strings.ToLower does.
func FuzzAppendLower(f *testing.F) {
	for _, s := range []string{"Ada", "ÄÖÜ straße", "İSTANBUL", "a\xffB", "ǅ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendLower(nil, []byte(s))), strings.ToLower(s); got != want {
			t.Fatalf("appendLower(%q) = %q, want %q", s, got, want)
		}
	})
}

// createResult encodes what json.Marshal of protocol.CreateResult does, for
// any entity name.
func TestCreateResultEncoding(t *testing.T) {
	for _, name := range []string{"contact", "new_Ticket", `odd"name\with`, "ünïcode", "a<b>&c", "tab\there"} {
		ent := &entity{EntityMeta: EntityMeta{LogicalName: name}}
		ent.packDefaults(stableGUID("userId")) // as New does
		id := "11111111-1111-4111-8111-111111111111"
		got, err := createResult(ent, id)
		if err != nil {
			t.Fatal(err)
		}
		var a, b protocol.CreateResult
		want, _ := json.Marshal(protocol.CreateResult{EntityType: name, ID: id})
		if err := json.Unmarshal(got, &a); err != nil || json.Unmarshal(want, &b) != nil || a != b {
			t.Errorf("createResult(%q) = %s (%v), json.Marshal gives %s", name, got, err, want)
		}
		if g2, _ := createResult(ent, []byte(id)); string(g2) != string(got) {
			t.Errorf("createResult with a []byte id = %s, with a string %s", g2, got)
		}
	}
}

// refWith is row.with as it was written first (a column list per row, a
// scan of the patch per column): the reference for the faster paths.
func refWith(r, patch row) row {
	var out row
	rc, pc := r.columns(nil), patch.columns(nil)
	for _, c := range rc {
		if last := lastOf(pc, c.name); last != nil {
			c.enc = last
		}
		out = append(out, c.enc...)
	}
	for i, c := range pc {
		if lastOf(pc[i+1:], c.name) == nil && lastOf(rc, c.name) == nil {
			out = append(out, c.enc...)
		}
	}
	return out
}

// with (firstWrite for an empty row, the general path otherwise, and past
// maxFirstWrite columns) gives the reference's bytes, order included.
func FuzzWithKeepsOrder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0, 0, 7, 9}, uint8(0))
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps over the lazy dog"), uint8(3))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}, 8), uint8(2))
	f.Fuzz(checkWith)
}

// TestWithKeepsOrder runs checkWith on random patches: with up to 64
// columns of some 80 names, names that share firstWrite's filter bit (and
// so must be compared) come up in most of them.
func TestWithKeepsOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		ops := make([]byte, rnd.IntN(70))
		for i := range ops {
			ops[i] = byte(rnd.IntN(256))
		}
		checkWith(t, ops, uint8(rnd.IntN(4)))
	}
}

// checkWith builds a patch from ops (a column name each, from a list of
// the emulator's and made-up names) and a row from base, and compares
// row.with to refWith.
func checkWith(t *testing.T, ops []byte, base uint8) {
	names := []string{"a", "b", "firstname", "lastname", "fullname", "contactid", "createdon", "modifiedon",
		"statecode", "statuscode", "_ownerid_value", "_createdby_value", "_modifiedby_value", "versionnumber",
		"telephone1", "telephone2", "mobilephone", "emailaddress1", "emailaddress2", "jobtitle", "address1_city", "ab", "ba"}
	for i := range 60 { // enough distinct names to pass maxFirstWrite
		names = append(names, fmt.Sprintf("c%02d", i))
	}
	var r, patch row
	for i := range int(base) % 4 * 3 {
		r = appendColumn(r, names[(i*7)%len(names)], "x")
	}
	for i, op := range ops {
		patch = appendColumn(patch, names[int(op)%len(names)], json.Number(fmt.Sprint(i)))
	}
	if got, want := r.with(patch), refWith(r, patch); !bytes.Equal(got, want) {
		t.Fatalf("with gives\n%q\nwant\n%q", got, want)
	}
}

// appendFullName packs strings.TrimSpace(first + " " + last), each the
// last written string of its name, else the stored one ("" when null or
// not a string), short or past its stack buffer.
func TestAppendFullName(t *testing.T) {
	long := strings.Repeat("é", 200)
	for _, tc := range []struct {
		written, stored row
		want            string
	}{
		{patchOf(col{"firstname", "Ada"}, col{"lastname", "Lovelace"}), nil, "Ada Lovelace"},
		{patchOf(col{"lastname", " Lovelace\u00a0"}), patchOf(col{"firstname", "\u2003"}), "Lovelace"},
		{patchOf(col{"firstname", "A"}, col{"firstname", nil}), patchOf(col{"firstname", "B"}, col{"lastname", "C"}), "C"},
		{patchOf(col{"firstname", json.Number("7")}), patchOf(col{"lastname", "\tX "}), "X"},
		{nil, nil, ""},
		{patchOf(col{"firstname", long}, col{"lastname", long + " "}), nil, long + " " + long},
		{patchOf(col{"firstname", " " + long}), patchOf(col{"lastname", long}), long + " " + long},
	} {
		got := appendFullName(nil, tc.written.columns(nil), tc.stored)
		if want := appendColumn(nil, "fullname", tc.want); !bytes.Equal(got, want) {
			t.Errorf("appendFullName(%q, %q) = %q, want %q", tc.written, tc.stored, got, want)
		}
	}
}
