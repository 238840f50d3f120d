package emulator

import (
	"strconv"
)

// A create's row is the columns the write gave (binds, then the body's)
// followed by columns every create of the entity ends with: fullname
// when it is computed, the primary key, createdon, modifiedon, the
// defaults (statecode and statuscode when the write left them out, the
// emulator's user as owner, creator and modifier) and versionnumber.
// applyWrite lists all of them (about twenty), hashes each name to merge
// them, and copies them out of a scratch buffer. applyCreate knows the
// tail's layout (createTail, per entity): it merges only the written
// columns against it and appends the tail straight into the stored row,
// which comes out byte for byte as applyWrite's.

// createTail is the layout of the columns every create of an entity ends
// with, built once (entity.packDefaults).
type createTail struct {
	// names are the tail's columns a written column of the same name
	// gives way to (statecode and statuscode are not among them: a written
	// one is kept and its default left out).
	names  []string
	filter [2]uint64 // nameHash bits of names
	// marks are the nameHash bits of the written columns applyCreate
	// looks for: statecode, statuscode, firstname and lastname.
	marks [2]uint64
	// state and status are the statecode and statuscode defaults; users
	// the other defaults, packed in order.
	state, status, users row
}

// newCreateTail returns ent's createTail; nil when two of its columns
// share a name (then the general merge decides).
func newCreateTail(ent *entity) *createTail {
	if len(ent.defaults) < 2 || string(ent.defaults[0].name) != colStateCode || string(ent.defaults[1].name) != colStatusCode {
		return nil
	}
	t := &createTail{state: ent.defaults[0].enc, status: ent.defaults[1].enc}
	if ent.computedName {
		t.names = append(t.names, "fullname")
	}
	t.names = append(t.names, ent.PrimaryIDAttribute, colCreatedOn, colModifiedOn)
	for _, c := range ent.defaults[2:] {
		t.names = append(t.names, string(c.name))
		t.users = append(t.users, c.enc...)
	}
	t.names = append(t.names, colVersionNumber)
	marked := []string{colStateCode, colStatusCode, "firstname", "lastname"}
	seen := map[string]bool{}
	for _, n := range marked {
		seen[n] = true
		h := nameHash([]byte(n))
		t.marks[h>>6] |= 1 << (h & 63)
	}
	for _, n := range t.names {
		if seen[n] {
			return nil
		}
		seen[n] = true
		h := nameHash([]byte(n))
		t.filter[h>>6] |= 1 << (h & 63)
	}
	return t
}

// has reports whether name is one of the tail's names; h is its nameHash.
func (t *createTail) has(name []byte, h uint) bool {
	if t.filter[h>>6]&(1<<(h&63)) == 0 {
		return false
	}
	for _, n := range t.names {
		if string(name) == n {
			return true
		}
	}
	return false
}

// applyCreate is applyWrite for a create (created) whose extra columns
// are the primary key id, createdon and modifiedon = now: it stores in
// r.fields the same row, built in one pass (see createTail). Called with
// mu held.
func (e *Emulator) applyCreate(ent *entity, r *record, ws *writeSet, version int64, id []byte, now string) *dvError {
	t := ent.createTail
	if t == nil {
		return e.applyWrite(ent, r, ws, version, true, col{ent.PrimaryIDAttribute, id}, col{colCreatedOn, now}, col{colModifiedOn, now})
	}
	patch, cols, targets, derr := e.writtenColumns(ent, ws, r.targets)
	defer func() { e.scratchDone(patch, cols) }()
	if derr != nil {
		return derr
	}
	written := len(cols)
	var keepBuf [maxFirstWrite]bool
	keep := keepBuf[:0]
	if written > len(keepBuf) {
		keep = make([]bool, written)
	}
	keep = keep[:written]
	// Keep the last written column of each name that the tail does not
	// replace, as firstWrite does, and note the last statecode,
	// statuscode, firstname and lastname (never tail columns).
	var seen [2]uint64
	n := 0
	hasState, hasStatus := false, false
	var first, last row
	for i := written - 1; i >= 0; i-- {
		c := cols[i]
		h := nameHash(c.name)
		word, bit := h>>6, uint64(1)<<(h&63)
		if t.has(c.name, h) || seen[word]&bit != 0 && lastOf(cols[i+1:written], c.name) != nil {
			continue
		}
		seen[word] |= bit
		keep[i] = true
		n += len(c.enc)
		if t.marks[word]&bit != 0 {
			switch string(c.name) {
			case colStateCode:
				hasState = true
			case colStatusCode:
				hasStatus = true
			case "firstname":
				first = c.enc
			case "lastname":
				last = c.enc
			}
		}
	}
	var fullName row
	if ent.computedName {
		at := len(patch)
		patch = appendFullNameOf(patch, first, last, r.fields)
		fullName = patch[at:]
	}
	versionText := strconv.AppendInt(e.numBuf[:0], version, 10)
	n += len(fullName) +
		textColumnLen(ent.PrimaryIDAttribute, len(id)) +
		textColumnLen(colCreatedOn, len(now)) + textColumnLen(colModifiedOn, len(now)) +
		len(t.users) + textColumnLen(colVersionNumber, len(versionText))
	if !hasState {
		n += len(t.state)
	}
	if !hasStatus {
		n += len(t.status)
	}
	out := make(row, 0, n) // exactly: a stored row keeps no spare capacity
	for i, c := range cols {
		if keep[i] {
			out = append(out, c.enc...)
		}
	}
	out = append(out, fullName...)
	out = appendText(out, ent.PrimaryIDAttribute, kindString, id)
	out = appendText(out, colCreatedOn, kindString, now)
	out = appendText(out, colModifiedOn, kindString, now)
	if !hasState {
		out = append(out, t.state...)
	}
	if !hasStatus {
		out = append(out, t.status...)
	}
	out = append(out, t.users...)
	out = appendText(out, colVersionNumber, kindNumber, versionText)
	r.fields = out
	r.targets = targets
	return nil
}

// textColumnLen is the length of appendText's encoding of a string or
// number column: name, kind, the text's length and the text.
func textColumnLen(name string, text int) int {
	return 1 + len(name) + 1 + uvarintLen(text) + text
}
