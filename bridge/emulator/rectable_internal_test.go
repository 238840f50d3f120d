package emulator

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
)

// TestRecTableAgainstMap: random sets, replacements, deletions and
// look-ups on a recTable give what a Go map gives, for random keys and
// for keys that differ in a few bits only (the clients' own, like
// 00000000-0000-4000-8000-00000000002a), through growth and long runs of
// deletions (the backward shift), with every key checked after each step
// of the first thousand and all() listing exactly the map.
func TestRecTableAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(r *rand.Rand) uuid.UUID
	}{
		{"random", func(r *rand.Rand) uuid.UUID {
			var k uuid.UUID
			binary.LittleEndian.PutUint64(k[:8], r.Uint64())
			binary.LittleEndian.PutUint64(k[8:], r.Uint64())
			return k
		}},
		{"sequential", func(r *rand.Rand) uuid.UUID {
			var k uuid.UUID
			binary.BigEndian.PutUint64(k[8:], uint64(r.IntN(3000)))
			return k
		}},
		{"few bits", func(r *rand.Rand) uuid.UUID {
			var k uuid.UUID
			k[r.IntN(16)] = byte(1 << r.IntN(8))
			k[r.IntN(16)] |= byte(r.IntN(4))
			return k
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			tbl, ref := newRecTable(), map[uuid.UUID]*record{}
			var keys []uuid.UUID
			for step := range 60_000 {
				switch op := rnd.IntN(10); {
				case op < 5 || len(keys) == 0: // set: new, or a key used before
					k := tc.key(rnd)
					if len(keys) > 0 && rnd.IntN(4) == 0 {
						k = keys[rnd.IntN(len(keys))]
					}
					r := &record{id: k}
					tbl.set(k, r)
					ref[k] = r
					keys = append(keys, k)
				case op < 8 || step/10_000%2 == 1: // delete, in runs when the phase says so
					k := keys[rnd.IntN(len(keys))]
					tbl.delete(k)
					delete(ref, k)
				default:
					k := keys[rnd.IntN(len(keys))]
					if got := tbl.get(k); got != ref[k] {
						t.Fatalf("step %d: get(%s) = %p, want %p", step, k, got, ref[k])
					}
				}
				if tbl.len() != len(ref) {
					t.Fatalf("step %d: len %d, want %d", step, tbl.len(), len(ref))
				}
				if step < 1000 || step%5000 == 0 {
					for _, k := range keys {
						if got := tbl.get(k); got != ref[k] {
							t.Fatalf("step %d: get(%s) = %p, want %p", step, k, got, ref[k])
						}
					}
					n := 0
					for k, r := range tbl.all() {
						n++
						if ref[k] != r || r.id != k {
							t.Fatalf("step %d: all() yields %s %p, want %p", step, k, r, ref[k])
						}
					}
					if n != len(ref) {
						t.Fatalf("step %d: all() yields %d records, want %d", step, n, len(ref))
					}
				}
			}
			c := tbl.clone()
			for _, k := range keys {
				tbl.delete(k)
			}
			if tbl.len() != 0 || c.len() != len(ref) {
				t.Fatalf("after deleting every key: len %d, the clone's %d (want 0, %d)", tbl.len(), c.len(), len(ref))
			}
			for k, r := range ref {
				if c.get(k) != r {
					t.Fatalf("the clone lost %s", k)
				}
			}
		})
	}
}

// TestRecTableNil: the nil table reads as empty.
func TestRecTableNil(t *testing.T) {
	var tbl *recTable
	if tbl.len() != 0 || tbl.get(uuid.New()) != nil {
		t.Fatal("nil table not empty")
	}
	tbl.delete(uuid.New())
	for range tbl.all() {
		t.Fatal("nil table yields")
	}
}
