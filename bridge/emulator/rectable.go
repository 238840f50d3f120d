package emulator

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"math/rand/v2"

	"github.com/google/uuid"
)

// recTable is one table's records by key: open addressing with linear
// probing over slots that hold the key beside the record, at most half
// full. At the record bound every create inserts a key, evicts the
// oldest record's (and a bound phonecall looks its contact up), each in
// a table far larger than the processor's nearest caches: a Go map's
// look-up reads its group's control word, then the slot, often on
// another cache line; here the slot is the first and mostly the only
// line read. A deletion shifts the slots after it back (no tombstones),
// so a table that churns keeps short probes.
//
// The nil *recTable is an empty table for reading. Guarded by
// Emulator.mu like the store.
type recTable struct {
	slots []recSlot // len a power of two, or 0
	n     int       // records held
	seed  [2]uint64 // keys the hash: a client's chosen keys cannot aim at one run of slots
}

type recSlot struct {
	id uuid.UUID
	r  *record // nil: the slot is free
}

func newRecTable() *recTable {
	return &recTable{seed: [2]uint64{rand.Uint64(), rand.Uint64()}}
}

// home is the slot k's probe starts at; mask is len(t.slots)-1.
func (t *recTable) home(k *uuid.UUID, mask uint64) uint64 {
	hi, lo := bits.Mul64(binary.LittleEndian.Uint64(k[:8])^t.seed[0], binary.LittleEndian.Uint64(k[8:])^t.seed[1])
	return (hi ^ lo) & mask
}

// len is the number of records held.
func (t *recTable) len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// get returns the record of key k; nil when there is none.
func (t *recTable) get(k uuid.UUID) *record {
	if t == nil || t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(&k, mask); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.r == nil {
			return nil
		}
		if s.id == k {
			return s.r
		}
	}
}

// set stores r under key k, replacing the record held there.
func (t *recTable) set(k uuid.UUID, r *record) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(&k, mask); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.r == nil {
			s.id, s.r = k, r
			t.n++
			return
		}
		if s.id == k {
			s.r = r
			return
		}
	}
}

// grow doubles the slots (16 at first), placing the records again.
func (t *recTable) grow() {
	old := t.slots
	t.slots, t.n = make([]recSlot, max(16, 2*len(old))), 0
	for i := range old {
		if s := &old[i]; s.r != nil {
			t.set(s.id, s.r)
		}
	}
}

// delete drops the record of key k, if any.
func (t *recTable) delete(k uuid.UUID) {
	if t == nil || t.n == 0 {
		return
	}
	mask := uint64(len(t.slots) - 1)
	i := t.home(&k, mask)
	for ; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.r == nil {
			return
		}
		if s.id == k {
			break
		}
	}
	// Move back each later slot of the run whose probe starts at or
	// before the freed slot i (cyclically), so that no probe passing i
	// stops short of its key.
	for j := (i + 1) & mask; t.slots[j].r != nil; j = (j + 1) & mask {
		if h := t.home(&t.slots[j].id, mask); (j-h)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = recSlot{}
	t.n--
}

// all yields the records with their keys, in no particular order. The
// table must not change during the loop.
func (t *recTable) all() iter.Seq2[uuid.UUID, *record] {
	return func(yield func(uuid.UUID, *record) bool) {
		if t == nil {
			return
		}
		for i := range t.slots {
			if s := &t.slots[i]; s.r != nil && !yield(s.id, s.r) {
				return
			}
		}
	}
}

// clone returns a copy of t (the records shared: a stored record is not
// changed).
func (t *recTable) clone() *recTable {
	c := *t
	c.slots = append([]recSlot(nil), t.slots...)
	return &c
}
