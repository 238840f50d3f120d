package emulator

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// A record evicted to keep the store within its bound (Config.MaxRecords)
// is gone without a trace, so a call that names it later gets Dataverse's
// 404 for a missing record, exactly as for an id that never existed. That
// is the bound's semantics, but a load run that reads back its own
// records then sees a -32001 it cannot explain. So the store remembers the
// ids it evicted last, in a small lossy table, and a 404 for one of them
// is counted (EmulatorTableStats.EvictedMisses) and logged.

// goneSlots is the size of the table of evicted ids: a slot per id,
// overwritten by a later one that hashes to it (at most 16 384 are
// remembered, most of the last ~16 000 evictions; 256 KiB once the bound
// is first reached). Only the id is kept: GUIDs are unique across tables
// in practice, and a 404 is counted for the table it names.
const goneSlots = 1 << 14

type goneIDs [goneSlots]uuid.UUID

func goneSlot(id uuid.UUID) int {
	h := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])
	return int((h * 0x9e3779b97f4a7c15) >> (64 - 14)) // 14 bits: goneSlots
}

// rememberGone records an evicted record; Emulator.mu is held for writing.
func (s *store) rememberGone(id uuid.UUID) {
	if s.gone == nil {
		s.gone = new(goneIDs)
	}
	s.gone[goneSlot(id)] = id
}

// evictedRecently reports whether the record id (its GUID text) was
// evicted and is still remembered; Emulator.mu is held.
func (s *store) evictedRecently(id string) bool {
	if s.gone == nil {
		return false
	}
	k, err := uuid.Parse(id)
	if err != nil {
		return false
	}
	return s.gone[goneSlot(k)] == k
}

// notFoundLocked is the 404 for a record of logical that is not in the
// store, counted and logged when the emulator evicted it; e.mu is held
// (for reading or writing).
func (e *Emulator) notFoundLocked(logical, id string) *dvError {
	if e.store.evictedRecently(id) {
		e.stats.add(func(c *counters) { c.evictedMisses[logical]++ })
		if ok, suppressed := e.goneLog.Allow(logical); ok {
			e.log.Info().Str("entity", logical).Str("id", id).Int("maxRecords", e.store.max).Int("alsoSince", suppressed).
				Msg("a call named a record the emulator evicted to stay within its bound (--emulator-max-records): it got 404 Does Not Exist; raise the bound to keep more records")
		}
	}
	return errNotFound(logical, id)
}

// notFound is notFoundLocked for a caller that does not hold e.mu.
func (e *Emulator) notFound(logical, id string) *dvError {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.notFoundLocked(logical, id)
}
