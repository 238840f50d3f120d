package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/protocol"
)

// record is one stored row. fields holds its columns (string, json.Number,
// bool or null), including the primary key, createdon, modifiedon and
// _x_value lookup columns. A stored record is not changed: an update stores
// a new one (only qpos, the store's bookkeeping, moves, under the write
// lock).
type record struct {
	id      uuid.UUID // its key in the store
	fields  row
	targets row // lookup → logical name (a string) of the record it points to
	version int64
	// qpos is where the record's entry is in the eviction queue, counted
	// from the first entry ever queued, plus one (store.entry); 0 when it
	// has none (pinned, or no bound). An update's record takes over its
	// entry.
	qpos   int
	pinned bool // seeded: never evicted, not counted against the bound
}

// store is the data of an emulator: logical name → id → record (a
// recTable per table). Guarded by Emulator.mu. Records are keyed by their
// GUID's 16 bytes, not its text: a key holds no pointer for the garbage
// collector to follow, which with tens of thousands of records kept
// shortens every GC cycle.
type store struct {
	tables  map[string]*recTable
	version int64 // last row version handed out

	// max bounds the records kept (0: no bound). Past it the oldest record
	// not used since eviction last looked at it is dropped (a FIFO with a
	// second chance): a long load run keeps bounded memory while the records
	// a run keeps reading, like seeded contacts, stay.
	max   int
	live  int
	order []queued // creation order, oldest at head; may hold dead entries
	head  int
	// dropped counts the entries dropped from the head of order so far:
	// order[i] is the entry at qpos dropped+i+1.
	dropped int
	names   []string         // the tables by queued.table
	evicted map[string]int64 // per logical name
	// gone remembers recently evicted records (evictedRecently), so that
	// a 404 for one is told from a 404 for an id that never existed.
	gone *goneIDs
}

// queued is a record's entry in the eviction queue. It holds all that
// eviction reads, the key, the table and the used mark, so that passing
// over a record or dropping it does not read the record: at the bound
// every create evicts the oldest record, whose memory is long out of the
// processor's caches. An entry holds no pointer.
type queued struct {
	id    uuid.UUID
	table uint32 // index in store.names
	live  bool   // false once its record is deleted
	// used is set (to 1) when the record is read or written since eviction
	// last passed it; readers set it under the read lock, so atomically.
	used uint32
}

func (s *store) init() {
	s.tables = map[string]*recTable{}
	s.version = 0
	s.live, s.head, s.dropped = 0, 0, 0
	s.order, s.names = nil, nil
	s.evicted = map[string]int64{}
	s.gone = nil
}

// tableIndex returns the index of table in s.names, adding it.
func (s *store) tableIndex(table string) uint32 {
	for i, n := range s.names {
		if n == table {
			return uint32(i)
		}
	}
	s.names = append(s.names, table)
	return uint32(len(s.names) - 1)
}

// entry returns the queue entry of r; nil when it has none.
func (s *store) entry(r *record) *queued {
	if r.qpos == 0 {
		return nil
	}
	return &s.order[r.qpos-1-s.dropped]
}

// markUsed marks r read or written, so that eviction passes over it once
// more. Called with mu held for reading or writing.
func (s *store) markUsed(r *record) {
	if q := s.entry(r); q != nil {
		atomic.StoreUint32(&q.used, 1)
	}
}

// added accounts for a new record r of table and evicts past max.
func (s *store) added(table string, id uuid.UUID, r *record) {
	r.qpos = 0
	if r.pinned {
		return
	}
	s.live++
	if s.max <= 0 {
		return
	}
	s.enqueue(r, queued{id: id, table: s.tableIndex(table), live: true})
	for s.live > s.max && s.evictOne() {
	}
	// Drop consumed entries once they are most of the queue: the rest
	// moves down, a copy with no look-up (at the bound, once per ~max
	// creates).
	if s.head > 1024 && s.head > len(s.order)/2 {
		n := copy(s.order, s.order[s.head:])
		s.order, s.dropped, s.head = s.order[:n], s.dropped+s.head, 0
	}
	// Drop dead entries (deleted records) once they are most of the queue.
	if len(s.order)-s.head > 4*s.max+1024 {
		s.compact()
	}
}

// enqueue appends q, the entry of r, to the queue.
func (s *store) enqueue(r *record, q queued) {
	s.order = append(s.order, q)
	r.qpos = s.dropped + len(s.order)
}

// compact drops the consumed and the dead entries of the queue, keeping
// the order of the others.
func (s *store) compact() {
	old := s.order[s.head:]
	s.dropped += len(s.order) // the kept entries take new positions
	s.order, s.head = make([]queued, 0, s.live+s.live/4), 0
	for _, q := range old {
		if q.live {
			s.enqueue(s.tables[s.names[q.table]].get(q.id), q)
		}
	}
}

// requeued puts the entries of the records stored back at their places
// (qpos) after the queue and the tables were restored from a snapshot.
func (s *store) requeued() {
	for i := s.head; i < len(s.order); i++ {
		if q := &s.order[i]; q.live {
			s.tables[s.names[q.table]].get(q.id).qpos = s.dropped + i + 1
		}
	}
}

// evictOne drops the oldest record not used since it was last passed over;
// false when there is nothing to drop.
func (s *store) evictOne() bool {
	for s.head < len(s.order) {
		q := s.order[s.head]
		s.head++
		if !q.live {
			continue // deleted
		}
		// Under the write lock no reader marks an entry: a plain load.
		if q.used != 0 {
			q.used = 0
			s.enqueue(s.tables[s.names[q.table]].get(q.id), q) // second chance
			continue
		}
		table := s.names[q.table]
		s.tables[table].delete(q.id)
		s.live--
		s.evicted[table]++
		s.rememberGone(q.id)
		return true
	}
	return false
}

// removed accounts for a deleted record.
func (s *store) removed(r *record) {
	if !r.pinned {
		s.live--
	}
	if q := s.entry(r); q != nil {
		q.live = false
	}
}

// get returns the record of a table by id (its GUID as text); nil when
// there is none.
func (s *store) get(table, id string) *record {
	k, err := uuid.Parse(id)
	if err != nil {
		return nil
	}
	return s.tables[table].get(k)
}

func (s *store) table(logical string) *recTable {
	t := s.tables[logical]
	if t == nil {
		t = newRecTable()
		s.tables[logical] = t
	}
	return t
}

func (s *store) nextVersion() int64 {
	s.version++
	return s.version
}

func (r *record) etag() string { return fmt.Sprintf(`W/"%d"`, r.version) }

// writeSet is a parsed create/update body.
type writeSet struct {
	fields row // the columns written, packed as a patch (row.with)
	binds  []bind
	// keyFree is how much of fields is known to hold no primary key
	// column (parseWrite sets it): a create looks for a given key after it
	// only.
	keyFree int
	sawKey  bool // add took a primary key column
	states  byte // wroteState, wroteStatus: checkState runs after the write
	// starts are where the columns of fields[:colsEnd] start, recorded as
	// parseWrite packed them, so that a write need not split fields again
	// (offsets, not slices: recording them costs no write barrier).
	starts  []int
	colsEnd int
}

// columns appends the columns of fields[:colsEnd] to cols.
func (ws *writeSet) columns(cols []column) []column {
	for i, at := range ws.starts {
		end := ws.colsEnd
		if i+1 < len(ws.starts) {
			end = ws.starts[i+1]
		}
		n := int(ws.fields[at])
		cols = append(cols, column{name: ws.fields[at+1 : at+1+n : at+1+n], enc: ws.fields[at:end:end]})
	}
	return cols
}

// writeSets recycles the write sets of CIF creates (Execute gives them
// back once the create ran: the record keeps a copy of the columns, never
// the set). Other writes leave theirs to the collector.
var writeSets = sync.Pool{New: func() any { return new(writeSet) }}

// maxPooledWriteSet bounds the fields buffer a recycled set keeps.
const maxPooledWriteSet = 4 << 10

// release gives ws back for reuse; nothing may use it afterwards.
func (ws *writeSet) release() {
	if cap(ws.fields) > maxPooledWriteSet {
		return
	}
	ws.fields = ws.fields[:0]
	ws.keyFree, ws.sawKey, ws.states = 0, false, 0
	ws.starts, ws.colsEnd = ws.starts[:0], 0
	clear(ws.binds)
	ws.binds = ws.binds[:0]
	writeSets.Put(ws)
}

// bind is one "<nav>@odata.bind" member.
type bind struct {
	lookup string
	target string    // the logical name of the record bound; empty: disassociate
	id     uuid.UUID // the record's key
}

// parseWrite decodes a record body against the entity's metadata. A body
// that is not a JSON object is refused first; then the first member in
// document order that cannot be written.
func parseWrite(ent *entity, body []byte, cat *catalog) (*writeSet, *dvError) {
	return parseWriteScan(ent, body, cat, false)
}

// parseValidWrite is parseWrite for a body already validated as JSON (see
// Emulator.writeBody): its members are found without validating it again,
// and a string's content comes with it (protocol.ValidMembers).
func parseValidWrite(ent *entity, body []byte, cat *catalog) (*writeSet, *dvError) {
	return parseWriteScan(ent, body, cat, true)
}

// parseWriteScan is parseWrite (valid false) and parseValidWrite.
func parseWriteScan(ent *entity, body []byte, cat *catalog, valid bool) (*writeSet, *dvError) {
	ws := writeSets.Get().(*writeSet)
	ws.fields = slices.Grow(ws.fields[:0], len(body))
	ws.keyFree, ws.sawKey, ws.states = 0, false, 0
	ws.starts, ws.colsEnd = ws.starts[:0], 0
	var derr *dvError
	var err error
	if valid {
		// Valid JSON: the first member that cannot be written is the error.
		m := protocol.ValidMembers(body)
		for mem, ok := m.Next(); ok && derr == nil; mem, ok = m.Next() {
			derr = ws.member(ent, cat, &mem)
		}
		err = m.Err()
	} else {
		err = protocol.ScanFlatObject(body, func(name []byte, v jsontext.Value) error {
			if derr == nil { // else keep reading: a syntax error further on comes first
				derr = ws.member(ent, cat, &protocol.ValidMember{Name: name, Value: v})
			}
			return nil
		})
	}
	if err != nil {
		return nil, errSyntax("The request body must be a JSON object of columns: %v", err)
	}
	if derr != nil {
		return nil, derr
	}
	if !ws.sawKey {
		ws.keyFree = len(ws.fields)
	}
	ws.colsEnd = len(ws.fields)
	return ws, nil
}

// member takes one body member into the write set (add) and lists the
// column it packed.
func (ws *writeSet) member(ent *entity, cat *catalog, m *protocol.ValidMember) *dvError {
	at := len(ws.fields)
	derr := ws.add(ent, cat, m.Name, m.Value, m.Text, m.Plain)
	if len(ws.fields) > at { // add packs at most one column
		ws.starts = append(ws.starts, at)
	}
	return derr
}

// add takes one body member into the write set. When plain, v is a string
// whose content is text (protocol.ValidMember).
func (ws *writeSet) add(ent *entity, cat *catalog, name []byte, v jsontext.Value, text []byte, plain bool) *dvError {
	typ := ent.writeTypes.find(name) // nil for an annotation or a bind: no column holds '@'
	if typ == nil {
		return ws.addOther(ent, cat, name, v)
	}
	switch v.Kind() {
	case '{', '[':
		if _, _, ok := ent.resolveLookup(string(name)); ok {
			return errNotImplemented("deep insert ('%s' holds a record): create it first and bind it with %s@odata.bind", name, name)
		}
		return errSyntax("The emulator does not support deep insert: property '%s' must be a primitive value.", name)
	case '"':
		if !plain {
			var err error
			if text, err = protocol.StringBytes(v); err != nil {
				return errSyntax("The value of '%s' is not a valid string: %v", name, err)
			}
		}
		if len(text) > typ.freeText {
			if derr := checkType(ent, name, *typ, v, text); derr != nil {
				return derr
			}
		}
		if string(name) == ent.PrimaryIDAttribute {
			id, err := uuid.ParseBytes(text)
			if err != nil {
				return errSyntax("Cannot convert the literal '%s' to the expected type 'Edm.Guid'.", text)
			}
			ws.fields = appendColumn(ws.fields, ent.PrimaryIDAttribute, id.String())
			ws.sawKey = true
			return nil
		}
		ws.fields = appendText(ws.fields, name, kindString, text)
		return nil
	}
	if string(name) == ent.PrimaryIDAttribute {
		return errSyntax("Cannot convert the literal '%s' to the expected type 'Edm.Guid'.", v)
	}
	if derr := checkType(ent, name, *typ, v, nil); derr != nil {
		return derr
	}
	ws.states |= typ.state
	switch v.Kind() {
	case '0':
		ws.fields = appendText(ws.fields, name, kindNumber, v)
	case 't':
		ws.fields = appendText(ws.fields, name, kindTrue, "")
	case 'f':
		ws.fields = appendText(ws.fields, name, kindFalse, "")
	default:
		ws.fields = appendText(ws.fields, name, kindNull, "")
	}
	return nil
}

// addOther is add for a member that names no writable column: a bind, an
// annotation (ignored, as Dataverse does) or an undeclared property.
func (ws *writeSet) addOther(ent *entity, cat *catalog, name []byte, v jsontext.Value) *dvError {
	if nav, ok := bytes.CutSuffix(name, []byte("@odata.bind")); ok {
		var ref []byte
		if v.Kind() == '"' {
			var err error
			if ref, err = protocol.StringBytes(v); err != nil {
				return errSyntax("The value of '%s@odata.bind' is not a valid string: %v", nav, err)
			}
		} else if v.Kind() != 'n' {
			return errSyntax("The value of '%s@odata.bind' must be a URI like '/contacts(<guid>)'.", nav)
		}
		b, derr := parseBind(ent, cat, ent.navName(nav), ref, v.Kind() == 'n')
		if derr != nil {
			return derr
		}
		ws.binds = append(ws.binds, b)
		return nil
	}
	if bytes.IndexByte(name, '@') >= 0 { // other annotations: ignored, as Dataverse does
		return nil
	}
	if k := v.Kind(); k == '{' || k == '[' {
		return errNotImplemented("deep insert ('%s' holds a record): create it first and bind it with %s@odata.bind", name, name)
	}
	return errUndeclaredProperty(string(name), ent.LogicalName)
}

// parseBind resolves "<nav>@odata.bind": ref is the entity reference,
// ignored when null (disassociate).
func parseBind[S string | []byte](ent *entity, cat *catalog, nav string, ref S, null bool) (bind, *dvError) {
	lookup, target, ok := ent.resolveLookup(nav)
	if !ok {
		return bind{}, errUndeclaredBind(nav)
	}
	if null {
		return bind{lookup: lookup}, nil
	}
	set, key, derr := parseEntityRef(ref)
	if derr != nil {
		return bind{}, derr
	}
	te := cat.bySet[string(set)]
	if te == nil {
		return bind{}, errSegment(string(set))
	}
	allowed := ent.Lookups[lookup]
	if target != "" && te.LogicalName != target || !containsStr(allowed, te.LogicalName) {
		return bind{}, errSyntax("The lookup '%s' of '%s' cannot point to an entity of type '%s'.", nav, ent.LogicalName, te.LogicalName)
	}
	return bind{lookup: lookup, target: te.LogicalName, id: key}, nil
}

// parseEntityRef parses "/contacts(<guid>)", "contacts(<guid>)" or an
// absolute URL ending in that: the entity set (a part of s) and the key.
func parseEntityRef[S string | []byte](s S) (set S, key uuid.UUID, derr *dvError) {
	seg := s
	for i := len(seg) - 1; i >= 0; i-- {
		if seg[i] == '/' {
			seg = seg[i+1:]
			break
		}
	}
	open := -1
	for i := 0; i < len(seg); i++ {
		if seg[i] == '(' {
			open = i
			break
		}
	}
	if open <= 0 || seg[len(seg)-1] != ')' {
		return set, key, errSyntax("'%s' is not a valid entity reference: use '/<entityset>(<guid>)'.", s)
	}
	key, err := parseGUID(seg[open+1 : len(seg)-1])
	if err != nil {
		return set, key, errSyntax("'%s' is not a valid entity reference: the key is not a GUID.", s)
	}
	return seg[:open], key, nil
}

// parseGUID is uuid.Parse of a string or uuid.ParseBytes of bytes.
func parseGUID[S string | []byte](s S) (uuid.UUID, error) {
	switch x := any(s).(type) {
	case []byte:
		return uuid.ParseBytes(x)
	default:
		return uuid.Parse(string(s))
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writeOpts says how a write is checked.
type writeOpts struct {
	dupDetect bool   // run the duplicate-detection rules that apply
	onCIF     bool   // the write came through the CIF path (rules need OnCIF)
	pinned    bool   // a seeded record: kept whatever the record bound
	ifMatch   string // "" none, "*" must exist, else an etag that must match
	ifNone    bool   // If-None-Match: * (must not exist)
	// at is a create's createdon and modifiedon when not zero (a call
	// answered at once: its time, see Emulator.run); zero: the clock's.
	at time.Time
}

// applyWrite stores in r.fields its columns with the write set applied,
// binds resolved, then the columns in extra and versionnumber = version; a
// create (created) also gets Dataverse's defaults for what the write left
// out: statecode 0, statuscode 1, and the emulator's user as owner, creator
// and modifier (_ownerid_value, _createdby_value, _modifiedby_value).
// Called with mu held.
func (e *Emulator) applyWrite(ent *entity, r *record, ws *writeSet, version int64, created bool, extra ...col) *dvError {
	// The patch's columns are listed once (the write set's as parseWrite
	// packed them, the others as they are appended): the look-ups below
	// and the merge (withColumns) read the list instead of decoding the
	// patch again for each. Slices into patch stay valid when it grows
	// (the old array keeps its bytes); the write set's are read in place.
	patch, cols, targets, derr := e.writtenColumns(ent, ws, r.targets)
	defer func() { e.scratchDone(patch, cols) }()
	if derr != nil {
		return derr
	}
	if ent.computedName {
		at := len(patch)
		patch = appendFullName(patch, cols, r.fields)
		cols = append(cols, colAt(patch, at))
	}
	for _, c := range extra {
		at := len(patch)
		patch = appendColumn(patch, c.name, c.val)
		cols = append(cols, colAt(patch, at))
	}
	if created {
		// Dataverse's defaults for what the write left out, packed once
		// per entity (entity.defaults).
		hasState, hasStatus := lastOf(cols, []byte(colStateCode)) != nil, lastOf(cols, []byte(colStatusCode)) != nil
		d := ent.defaults
		if !hasState {
			cols = append(cols, d[0])
		}
		if !hasStatus {
			cols = append(cols, d[1])
		}
		cols = append(cols, d[2:]...)
	}
	at := len(patch)
	patch = appendText(patch, colVersionNumber, kindNumber, strconv.AppendInt(e.numBuf[:0], version, 10))
	cols = append(cols, colAt(patch, at))
	r.fields = r.fields.withColumns(cols)
	r.targets = targets
	return nil
}

// writtenColumns lists the columns a write gives, for applyWrite and
// applyCreate: the lookup columns of ws's binds (applyBinds, packed into
// the scratch patch), then the write set's own. It returns the patch, the
// list (the scratch columns) and the record's lookup targets updated from
// targets; the caller hands patch and list back with scratchDone. Called
// with mu held.
func (e *Emulator) writtenColumns(ent *entity, ws *writeSet, targets row) (row, []column, row, *dvError) {
	patch, targets, derr := e.applyBinds(ent, ws, e.patch[:0], targets)
	cols := e.cols[:0]
	if derr != nil {
		return patch, cols, targets, derr
	}
	cols = patch.columns(cols)
	cols = ws.columns(cols)
	cols = ws.fields[ws.colsEnd:].columns(cols)
	return patch, cols, targets, nil
}

// scratchDone keeps patch and cols, grown by a write, as the emulator's
// scratch buffers (guarded by mu like the store) for the next one.
func (e *Emulator) scratchDone(patch row, cols []column) {
	clear(cols) // no write set's buffer kept alive from here
	e.patch, e.cols = patch[:0], cols[:0]
}

// applyBinds appends to patch the lookup column of each bind of ws and
// returns it with targets, the record's lookup targets, updated; a bind to
// a record that is not stored fails with its 404. Called with mu held.
func (e *Emulator) applyBinds(ent *entity, ws *writeSet, patch, targets row) (row, row, *dvError) {
	for _, b := range ws.binds {
		c := ent.lookupCols[b.lookup]
		if b.target == "" {
			patch = appendColumn(patch, c, nil)
			targets = targets.without(b.lookup)
			continue
		}
		target := e.store.tables[b.target].get(b.id)
		if target == nil {
			return patch, targets, e.notFoundLocked(b.target, b.id.String())
		}
		e.store.markUsed(target) // referenced: keep it past the next eviction
		var id [36]byte
		patch = appendColumn(patch, c, appendGUID(id[:0], b.id))
		targets = targets.withString(b.lookup, b.target)
	}
	return patch, targets, nil
}

// appendFullName appends the fullname column computed from firstname and
// lastname: the last of each among the written columns cols, else the
// stored row's, trimmed as strings.TrimSpace(first + " " + last).
func appendFullName(patch row, cols []column, stored row) row {
	return appendFullNameOf(patch, lastOf(cols, []byte("firstname")), lastOf(cols, []byte("lastname")), stored)
}

// appendFullNameOf is appendFullName given the encodings of the last
// firstname and lastname written (nil: not written).
func appendFullNameOf(patch, firstEnc, lastEnc, stored row) row {
	part := func(enc row, c string) []byte {
		if enc == nil {
			enc = lastColumn(stored, c)
			if enc == nil {
				return nil
			}
		}
		if _, kind, text, _ := enc.next(); kind == kindString {
			return text
		}
		return nil
	}
	first, last := part(firstEnc, "firstname"), part(lastEnc, "lastname")
	var buf [256]byte
	if len(first)+1+len(last) > len(buf) {
		return appendColumn(patch, "fullname", strings.TrimSpace(string(first)+" "+string(last)))
	}
	name := append(append(append(buf[:0], first...), ' '), last...)
	return appendText(patch, "fullname", kindString, bytes.TrimSpace(name))
}

// stamp is the time for createdon and modifiedon (RFC 3339, whole
// seconds), formatted once a second rather than on every write. Called
// with mu held.
func (e *Emulator) stamp() string { return e.stampAt(time.Time{}) }

// stampAt is stamp for the time at, or the clock's now when at is zero.
func (e *Emulator) stampAt(at time.Time) string {
	if at.IsZero() {
		at = e.now()
	}
	if sec := at.Unix(); sec != e.stampSec || e.stampText == "" {
		e.stampSec, e.stampText = sec, at.UTC().Format(time.RFC3339)
	}
	return e.stampText
}

// create inserts a record. A client-supplied primary key that exists fails
// with 412 / 0x80040237.
func (e *Emulator) create(ent *entity, ws *writeSet, opts writeOpts) (*record, *dvError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.createLocked(ent, ws, opts)
}

func (e *Emulator) createLocked(ent *entity, ws *writeSet, opts writeOpts) (*record, *dvError) {
	t := e.store.table(ent.LogicalName)
	id := ws.fields[ws.keyFree:].str(ent.PrimaryIDAttribute)
	var k uuid.UUID
	var idText [36]byte // the key's text, packed into the row from here
	var idCol []byte
	if id == "" {
		k = e.newIDs.newID()
		idCol = appendGUID(idText[:0], k)
	} else {
		idCol = append(idText[:0], id...)
		var err error
		if k, err = uuid.Parse(id); err != nil {
			return nil, errSyntax("Cannot convert the literal '%s' to the expected type 'Edm.Guid'.", id)
		}
		if t.get(k) != nil {
			return nil, errDuplicateKey()
		}
	}
	now := e.stampAt(opts.at)
	r := &record{id: k, pinned: opts.pinned}
	version := e.store.nextVersion()
	if derr := e.applyCreate(ent, r, ws, version, idCol, now); derr != nil {
		return nil, derr
	}
	if ws.states != 0 {
		var derr *dvError
		if r.fields, derr = checkState(ent, r.fields, ws.states, k.String()); derr != nil {
			return nil, derr
		}
	}
	if opts.dupDetect {
		if derr := e.checkDuplicates(ent, r, opts.onCIF); derr != nil {
			return nil, derr
		}
	}
	r.version = version
	t.set(k, r)
	e.store.added(ent.LogicalName, k, r)
	return r, nil
}

// update changes an existing record; when upsert is true a missing record is
// created with that id. created reports which happened.
func (e *Emulator) update(ent *entity, id string, ws *writeSet, upsert bool, opts writeOpts) (r *record, created bool, derr *dvError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.store.table(ent.LogicalName)
	k, err := uuid.Parse(id)
	if err != nil {
		return nil, false, errNotFound(ent.LogicalName, id)
	}
	cur := t.get(k)
	if cur == nil {
		if !upsert || opts.ifMatch != "" {
			return nil, false, e.notFoundLocked(ent.LogicalName, id)
		}
		if pk := ws.fields.str(ent.PrimaryIDAttribute); pk != "" && pk != id {
			return nil, false, errSyntax("The primary key in the body '%s' does not match the key in the URL '%s'.", pk, id)
		}
		ws.fields = appendColumn(ws.fields, ent.PrimaryIDAttribute, id)
		r, derr := e.createLocked(ent, ws, opts)
		return r, derr == nil, derr
	}
	if opts.ifNone {
		return nil, false, errDuplicateKey()
	}
	if opts.ifMatch != "" && opts.ifMatch != "*" && opts.ifMatch != cur.etag() {
		return nil, false, &dvError{http.StatusPreconditionFailed, CodeVersionMismatch, msgVersion}
	}
	if pk := ws.fields.str(ent.PrimaryIDAttribute); pk != "" && pk != id {
		return nil, false, errSyntax("The primary key in the body '%s' does not match the key in the URL '%s'.", pk, id)
	}
	next := &record{id: k, fields: cur.fields, targets: cur.targets, qpos: cur.qpos, pinned: cur.pinned}
	version := e.store.nextVersion()
	if derr := e.applyWrite(ent, next, ws, version, false, col{colModifiedOn, e.stamp()}); derr != nil {
		return nil, false, derr
	}
	if ws.states != 0 {
		if next.fields, derr = checkState(ent, next.fields, ws.states, id); derr != nil {
			return nil, false, derr
		}
	}
	if opts.dupDetect {
		if derr := e.checkDuplicates(ent, next, opts.onCIF); derr != nil {
			return nil, false, derr
		}
	}
	next.version = version
	e.store.markUsed(next)
	t.set(k, next)
	return next, false, nil
}

// remove deletes a record.
func (e *Emulator) remove(ent *entity, id string) *dvError { return e.removeIf(ent, id, "") }

// removeIf deletes a record when ifMatch ("" or "*": any version) names its
// current etag; otherwise 412 as Dataverse answers a stale If-Match.
func (e *Emulator) removeIf(ent *entity, id, ifMatch string) *dvError {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, err := uuid.Parse(id)
	t := e.store.tables[ent.LogicalName]
	r := t.get(k)
	if err != nil || r == nil {
		return e.notFoundLocked(ent.LogicalName, id)
	}
	if ifMatch != "" && ifMatch != "*" && ifMatch != r.etag() {
		return &dvError{http.StatusPreconditionFailed, CodeVersionMismatch, msgVersion}
	}
	e.store.removed(r)
	t.delete(k)
	return nil
}

// checkDuplicates runs the rules of ent against the other records. Called
// with mu held.
func (e *Emulator) checkDuplicates(ent *entity, r *record, onCIF bool) *dvError {
	for _, rule := range e.rules {
		if rule.Entity != ent.LogicalName || onCIF && !rule.OnCIF {
			continue
		}
		for k, other := range e.store.tables[ent.LogicalName].all() {
			if k != r.id && sameOn(rule.Attributes, r, other) {
				return errDuplicateRule()
			}
		}
	}
	return nil
}

func sameOn(attrs []string, a, b *record) bool {
	for _, k := range attrs {
		x, y := valueString(a.fields.get(k)), valueString(b.fields.get(k))
		if x == "" || !strings.EqualFold(x, y) {
			return false
		}
	}
	return true
}

// valueString renders a stored value for comparisons ("" for null).
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return fmt.Sprint(v)
}

// normalizeID parses a record id, returning it in canonical lowercase form.
func normalizeID(s string) (string, bool) {
	u, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// applySeed loads seed data through the create path (no faults, no
// duplicate detection, not counted as operations).
func (e *Emulator) applySeed(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var seed map[string][]json.RawMessage
	if err := json.Unmarshal(data, &seed); err != nil {
		return fmt.Errorf("seed: want {\"<logical name>\":[{...},...]}: %w", err)
	}
	// Tables go in catalog order; a table whose lookups point into a table
	// not seeded yet is rolled back and retried in the next pass.
	pending := map[string]bool{}
	for name := range seed {
		if e.cat.byLogical[name] == nil {
			return fmt.Errorf("seed: %s: unknown entity (not in the metadata table)", name)
		}
		pending[name] = true
	}
	var lastErr error
	for pass := 0; pass < len(e.cat.names) && len(pending) > 0; pass++ {
		lastErr = nil
		for _, name := range e.cat.names {
			if !pending[name] {
				continue
			}
			if err := e.seedTable(name, seed[name]); err != nil {
				lastErr = err
				continue
			}
			delete(pending, name)
		}
	}
	if lastErr != nil {
		return lastErr
	}
	return nil
}

func (e *Emulator) seedTable(name string, rows []json.RawMessage) error {
	ent := e.cat.byLogical[name]
	e.mu.Lock()
	defer e.mu.Unlock()
	var created []uuid.UUID
	for i, row := range rows {
		ws, derr := parseWrite(ent, row, e.cat)
		if derr == nil {
			var r *record
			r, derr = e.createLocked(ent, ws, writeOpts{pinned: true})
			if derr == nil {
				created = append(created, r.id)
				continue
			}
		}
		for _, id := range created { // roll back so that a later pass can retry the table
			e.store.tables[name].delete(id)
		}
		return fmt.Errorf("seed: %s[%d]: %s", name, i, derr.Message)
	}
	return nil
}

// defaultStatus is the statuscode a new record gets: 1 (Active, Open, In
// Progress, New), 2 (Not Started) for a task.
func defaultStatus(logical string) string {
	if logical == "task" {
		return "2"
	}
	return "1"
}
