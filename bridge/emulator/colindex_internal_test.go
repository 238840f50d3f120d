package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// reviewSchema declares text columns of lengths around the eight bytes
// colHash reads and nextStop steps by, beside the built-in ones.
const reviewSchema = `{"entities":[{"logicalName":"contact","attributes":["new_s0","new_s1","new_s7","new_s8","new_s9","new_m10","new_sdefault","new_mdefault","new_when","new_count"]}],
	"attributeTypes":{"contact":{"new_s0":{"type":"String","maxLength":0},"new_s1":{"type":"String","maxLength":1},
	"new_s7":{"type":"String","maxLength":7},"new_s8":{"type":"String","maxLength":8},"new_s9":{"type":"String","maxLength":9},
	"new_m10":{"type":"Memo","maxLength":10},"new_sdefault":{"type":"String"},"new_mdefault":{"type":"Memo"},
	"new_when":{"type":"DateTime"},"new_count":{"type":"Integer"}}}}`

// TestColIndexAgainstMap: the column index finds exactly the writable
// columns of every entity, each with the type typeOf works out (what the
// map it replaced held), and no name that differs from one of them in its
// length, case, first, middle or last byte.
func TestColIndexAgainstMap(t *testing.T) {
	e := newEmulator(t, Config{Schema: []byte(reviewSchema)})
	for logical, ent := range e.cat.byLogical {
		for name := range ent.writable {
			got, want := ent.writeTypes.find([]byte(name)), typeOf(ent, name)
			if got == nil || !reflect.DeepEqual(*got, want) {
				t.Errorf("%s.%s: find = %+v, want %+v", logical, name, got, want)
			}
			n := len(name)
			for _, other := range []string{"", name + "x", "x" + name, name[:n-1], name[1:], strings.ToUpper(name),
				name[:n/2] + "\x00" + name[n/2+1:], name[:n-1] + "\xff", "\xff" + name[1:], name + "@odata.bind", name + "@x.y"} {
				got := ent.writeTypes.find([]byte(other))
				if ent.writable[other] && !strings.Contains(other, "@") {
					if want := typeOf(ent, other); got == nil || !reflect.DeepEqual(*got, want) {
						t.Errorf("%s.%s: find = %+v, want %+v", logical, other, got, want)
					}
				} else if got != nil {
					t.Errorf("%s: find(%q) = %+v, want none (not a writable column)", logical, other, got)
				}
			}
		}
	}
}

// TestColIndexCollisions: names colHash cannot tell apart (the same length,
// first and last eight bytes) share one probe chain, here starting at the
// last slot so that it wraps to the first; every one is found with its own
// type, a missing name of the same shape ends its probe at the first empty
// slot, and the table is never more than half full.
func TestColIndexCollisions(t *testing.T) {
	for _, k := range []int{1, 3, 4, 5, 8, 9, 31, 32, 33} {
		size := 8
		for size < 2*(k+1) { // the name with '@' counts too
			size *= 2
		}
		// A prefix whose names hash to the last slot of a table of size.
		var prefix string
		for p := 0; ; p++ {
			prefix = fmt.Sprintf("c%07d", p)
			if h := colHash([]byte(prefix+"0000_suffix_x")) >> (64 - uintLog2(size)); h == uint64(size-1) {
				break
			}
		}
		name := func(i int) string { return fmt.Sprintf("%s%04d_suffix_x", prefix, i) }
		types := map[string]colType{}
		for i := range k {
			types[name(i)] = colType{typ: "String", maxLen: i, isText: true, freeText: i}
		}
		types["has@at"] = colType{typ: "Integer"} // left out of the index
		x := newColIndex(types)
		if len(x.slots) != size {
			t.Fatalf("%d names: %d slots, want %d", k, len(x.slots), size)
		}
		used := 0
		for _, s := range x.slots {
			if s.typ != nil {
				used++
			}
		}
		if used != k || 2*used > len(x.slots) {
			t.Errorf("%d names: %d of %d slots used", k, used, len(x.slots))
		}
		if x.slots[size-1].typ == nil {
			t.Errorf("%d names: the chain does not start at the last slot", k)
		}
		for i := range k {
			if got := x.find([]byte(name(i))); got == nil || got.maxLen != i {
				t.Errorf("%d names: find(%q) = %+v, want maxLen %d", k, name(i), got, i)
			}
		}
		for _, missing := range []string{name(k), name(9999), "has@at", prefix, ""} {
			if got := x.find([]byte(missing)); got != nil {
				t.Errorf("%d names: find(%q) = %+v, want none", k, missing, got)
			}
		}
	}
	var empty colIndex // an entity New did not pack
	if got := empty.find([]byte("name")); got != nil {
		t.Errorf("the empty index found %+v", got)
	}
}

func uintLog2(n int) uint {
	var l uint
	for 1<<l < n {
		l++
	}
	return l
}

// TestShortTextSkipsOnlyWhatCheckTypePasses: a string value of a writable
// column is refused by a create (parseValidWrite, and parseWrite) exactly
// when checkType refuses it, though add calls checkType only for a text
// longer in bytes than the column's freeText: texts around each bound in
// runes and in bytes, of one-, two-, three- and four-byte runes, invalid
// UTF-8 (a U+FFFD of three bytes once read) and escapes.
func TestShortTextSkipsOnlyWhatCheckTypePasses(t *testing.T) {
	e := newEmulator(t, Config{Schema: []byte(reviewSchema)})
	tested := 0
	for _, logical := range []string{"contact", "account", "incident", "phonecall"} {
		ent := e.cat.byLogical[logical]
		if ent == nil {
			t.Fatalf("no entity %s", logical)
		}
		for _, name := range slices.Sorted(maps.Keys(ent.writable)) {
			typ := typeOf(ent, name)
			if name == ent.PrimaryIDAttribute || typ.typ != "String" && typ.typ != "Memo" {
				continue
			}
			bound := typ.maxLen
			if !typ.isText {
				bound = 2000
			}
			for _, n := range []int{bound - 1, bound, bound + 1} {
				if n < 0 {
					continue
				}
				for _, unit := range []string{"a", "é", "€", "😀", "\xff", `\u00e9`, `\"`, "\x7f"} {
					for _, lit := range []string{strings.Repeat(unit, n), "a" + strings.Repeat(unit, max(n-1, 0)), strings.Repeat(unit, max(n-1, 0)) + "😀"} {
						tested++
						body := []byte(`{"` + name + `":"` + lit + `"}`)
						var text string
						if err := json.Unmarshal([]byte(`"`+lit+`"`), &text); err != nil {
							t.Fatalf("%q: %v", lit, err)
						}
						v, _ := json.Marshal(text)
						want := checkType(ent, []byte(name), typ, v, []byte(text))
						for parse, p := range map[string]func(*entity, []byte, *catalog) (*writeSet, *dvError){"parseValidWrite": parseValidWrite, "parseWrite": parseWrite} {
							ws, got := p(ent, body, e.cat)
							if (got == nil) != (want == nil) || got != nil && (got.Code != want.Code || got.Message != want.Message) {
								t.Errorf("%s %s.%s (%s of at most %d) = %q (%d bytes): %v, checkType %v", parse, logical, name, typ.typ, bound, text, len(text), got, want)
							}
							if ws != nil {
								ws.release()
							}
						}
					}
				}
			}
		}
	}
	if tested < 500 {
		t.Fatalf("only %d texts tried: the entities lost their text columns?", tested)
	}
}
