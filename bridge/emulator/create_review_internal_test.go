package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/bridge/correlation"
)

// TestFirstWriteNameCollisions: names that share firstWrite's filter bit
// (found by brute force) are neither merged nor dropped, and a repeated
// name among them keeps only its last column, in the order refWith gives.
func TestFirstWriteNameCollisions(t *testing.T) {
	byBit := map[uint][]string{}
	var bit uint
	var colliding []string
	for i := 0; len(colliding) < 12; i++ {
		name := fmt.Sprintf("n%d", i)
		h := nameHash([]byte(name))
		byBit[h] = append(byBit[h], name)
		if len(byBit[h]) == 12 {
			bit, colliding = h, byBit[h]
		}
	}
	for _, n := range colliding {
		if nameHash([]byte(n)) != bit {
			t.Fatalf("%q is not in bit %d", n, bit)
		}
	}
	rnd := rand.New(rand.NewPCG(7, 9))
	for round := range 2000 {
		var patch row
		want := map[string]string{}
		for i := range 1 + rnd.IntN(maxFirstWrite) {
			name := colliding[rnd.IntN(len(colliding))]
			if round%2 == 1 && i%3 == 0 {
				name = "other" + fmt.Sprint(rnd.IntN(40)) // names of other bits between
			}
			v := fmt.Sprint(round, ".", i)
			patch = appendColumn(patch, name, json.Number(v))
			want[name] = v
		}
		got := row(nil).with(patch)
		if ref := refWith(nil, patch); !bytes.Equal(got, ref) {
			t.Fatalf("with on an empty row gives\n%q\nwant\n%q", got, ref)
		}
		seen := map[string]bool{}
		for name, v := range got.all() {
			if seen[name] {
				t.Fatalf("%q kept twice in %q", name, got)
			}
			seen[name] = true
			if fmt.Sprint(v) != want[name] {
				t.Fatalf("%q = %v, want its last value %s", name, v, want[name])
			}
		}
		if len(seen) != len(want) {
			t.Fatalf("%d columns kept of %d names written: %q", len(seen), len(want), got)
		}
	}
}

// TestCheckTypeLength: a text's length is counted in runes, also when its
// bytes pass the maximum and its runes do not, and the other way round.
func TestCheckTypeLength(t *testing.T) {
	ent := &entity{EntityMeta: EntityMeta{LogicalName: "contact"}}
	for _, tc := range []struct {
		text string
		max  int
		ok   bool
	}{
		{"abcde", 5, true},
		{"abcdef", 5, false},
		{"ééééé", 5, true},                // 10 bytes, 5 runes
		{"éééééé", 5, false},              // 12 bytes, 6 runes
		{"😀😀😀😀😀", 5, true},                // 20 bytes, 5 runes
		{"abcd😀", 5, true},                // 8 bytes, 5 runes
		{"abcde😀", 5, false},              // 9 bytes, 6 runes
		{"\xff\xff\xff\xff\xff", 5, true}, // invalid UTF-8: a rune per byte
		{"\xff\xff\xff\xff\xff\xff", 5, false},
		{"", 0, true},
		{"é", 0, false},
		{strings.Repeat("é", 100), 100, true},
		{strings.Repeat("é", 101), 100, false},
	} {
		for _, typ := range []colType{{typ: "String", maxLen: tc.max, isText: true}, {typ: "Memo", maxLen: tc.max, isText: true}} {
			v, _ := json.Marshal(tc.text)
			derr := checkType(ent, []byte("x"), typ, v, []byte(tc.text))
			if (derr == nil) != tc.ok {
				t.Errorf("%s of at most %d: %q (%d bytes) refused: %v, want refused: %v", typ.typ, tc.max, tc.text, len(tc.text), derr, !tc.ok)
			}
			if derr != nil && derr.Code != CodeLength {
				t.Errorf("%q refused with %s, want %s", tc.text, derr.Code, CodeLength)
			}
		}
	}
}

// TestEvictionQueueAgainstModel drives the store with creates, reads,
// updates, deletes and re-creates under a small bound, and checks after
// every step (through phases of create/delete churn that fill the queue
// with stale keys) that it keeps exactly the records a plain second-chance FIFO
// that never compacts its queue keeps: compaction keeps the order, evicts
// no record twice and skips none.
func TestEvictionQueueAgainstModel(t *testing.T) {
	for _, max := range []int{1, 3, 40} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			var s store
			s.init()
			s.max = max
			type refRec struct {
				serial uint64
				used   bool
				rec    *record // the record the store must keep
			}
			type key struct {
				table string
				id    uuid.UUID
			}
			ref := map[key]*refRec{}
			type refKey struct {
				table  string
				id     uuid.UUID
				serial uint64
			}
			var refOrder []refKey
			refHead := 0
			refEvicted := map[string]int64{}
			var serial uint64
			refEvict := func() {
				for len(ref) > max && refHead < len(refOrder) {
					k := refOrder[refHead]
					refHead++
					cur := ref[key{k.table, k.id}]
					if cur == nil || cur.serial != k.serial {
						continue
					}
					if cur.used {
						cur.used = false
						refOrder = append(refOrder, k)
						continue
					}
					delete(ref, key{k.table, k.id})
					refEvicted[k.table]++
				}
			}
			rnd := rand.New(rand.NewPCG(uint64(max), 3))
			var ids []key // every id ever created, for re-creates
			live := func() []key {
				var out []key
				for k := range ref {
					out = append(out, k)
				}
				return out
			}
			for step := range 30_000 {
				op := rnd.IntN(10)
				if step/5000%2 == 1 { // churn under the bound: nothing evicted, the queue fills with stale keys
					op = 9
					if len(ref) < max {
						op = 0
					}
				}
				switch {
				case op < 5 || len(ref) == 0: // create, sometimes under an id used before
					k := key{[]string{"contact", "account"}[rnd.IntN(2)], uuid.New()}
					if len(ids) > 0 && rnd.IntN(4) == 0 {
						k = ids[rnd.IntN(len(ids))]
					}
					if s.tables[k.table][k.id] != nil {
						continue
					}
					ids = append(ids, k)
					r := &record{id: k.id}
					s.table(k.table)[k.id] = r
					s.added(k.table, k.id, r)
					serial++
					ref[k] = &refRec{serial: serial, rec: r}
					refOrder = append(refOrder, refKey{k.table, k.id, serial})
					refEvict()
				case op < 7: // read
					ks := live()
					k := ks[rnd.IntN(len(ks))]
					s.markUsed(s.tables[k.table][k.id])
					ref[k].used = true
				case op < 8: // update: a new record, the same serial, used
					ks := live()
					k := ks[rnd.IntN(len(ks))]
					cur := s.tables[k.table][k.id]
					next := &record{id: k.id, qpos: cur.qpos} // as Emulator.update
					s.markUsed(next)
					s.tables[k.table][k.id] = next
					ref[k].used, ref[k].rec = true, next
				default: // delete
					ks := live()
					k := ks[rnd.IntN(len(ks))]
					s.removed(s.tables[k.table][k.id])
					delete(s.tables[k.table], k.id)
					delete(ref, k)
				}
				n := 0
				for table, recs := range s.tables {
					for id, r := range recs {
						n++
						if want := ref[key{table, id}]; want == nil || want.rec != r {
							t.Fatalf("step %d: the store keeps %s %s, the model does not", step, table, id)
						}
						if q := s.entry(r); q == nil || !q.live || q.id != id || s.names[q.table] != table {
							t.Fatalf("step %d: %s %s has entry %+v", step, table, id, q)
						}
					}
				}
				if n != len(ref) || s.live != n {
					t.Fatalf("step %d: the store keeps %d records (live %d), the model %d", step, n, s.live, len(ref))
				}
				if len(s.order)-s.head > 4*max+1024+1 {
					t.Fatalf("step %d: the queue holds %d keys", step, len(s.order)-s.head)
				}
			}
			for table, n := range refEvicted {
				if s.evicted[table] != n {
					t.Errorf("%s: %d evicted, the model %d", table, s.evicted[table], n)
				}
			}
		})
	}
}

// TestOperationCountsConcurrent: the per-messageType counts, added without
// the stats lock, come out exact under concurrent calls and Stats reads,
// and Reset clears them.
func TestOperationCountsConcurrent(t *testing.T) {
	e := newEmulator(t, Config{})
	calls := []struct{ method, params string }{
		{"cif.createrecord", `{"entityName":"contact","value":{"lastname":"x"}}`},
		{"cif.getenvironment", `{}`},
		{"cif.refreshform", `{}`},
	}
	const perWorker = 200
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := calls[w%len(calls)]
			for range perWorker {
				if _, err := e.Execute(context.Background(), &correlation.Attempt{Method: c.method, Params: json.RawMessage(c.params)}); err != nil {
					t.Error(err)
					return
				}
				_ = e.Stats()
			}
		}()
	}
	wg.Wait()
	ops := e.Stats().Operations
	for _, mt := range []string{"createrecord", "getenvironment", "refreshform"} {
		if ops[mt] != 2*perWorker {
			t.Errorf("%s counted %d times, want %d (all: %v)", mt, ops[mt], 2*perWorker, ops)
		}
	}
	if len(ops) != 3 {
		t.Errorf("operations %v, want only the three called", ops)
	}
	e.Reset()
	if ops := e.Stats().Operations; len(ops) != 0 {
		t.Errorf("operations after Reset: %v", ops)
	}
}
