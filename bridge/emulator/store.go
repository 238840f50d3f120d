package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/protocol"
)

// record is one stored row. fields holds column → JSON value (string,
// json.Number, bool or nil), including the primary key, createdon,
// modifiedon and _x_value lookup columns.
type record struct {
	fields  map[string]any
	targets map[string]string // lookup → logical name of the record it points to
	version int64
	serial  uint64      // creation number, kept by updates (eviction order)
	pinned  bool        // seeded: never evicted, not counted against the bound
	used    atomic.Bool // read or written since eviction last passed it
}

// store is the data of an emulator: logical name → id → record. Guarded by
// Emulator.mu.
type store struct {
	tables  map[string]map[string]*record
	version int64 // last row version handed out

	// max bounds the records kept (0: no bound). Past it the oldest record
	// not used since eviction last looked at it is dropped (a FIFO with a
	// second chance): a long load run keeps bounded memory while the records
	// a run keeps reading, like seeded contacts, stay.
	max     int
	live    int
	serial  uint64
	order   []recordKey // creation order, oldest at head; may hold stale keys
	head    int
	evicted map[string]int64 // per logical name
}

// recordKey names a record in creation order; serial tells a key from a
// record later created again under the same id.
type recordKey struct {
	table, id string
	serial    uint64
}

func (s *store) init() {
	s.tables = map[string]map[string]*record{}
	s.version = 0
	s.live, s.serial, s.head = 0, 0, 0
	s.order = nil
	s.evicted = map[string]int64{}
}

// added accounts for a new record r and evicts past max.
func (s *store) added(table, id string, r *record) {
	s.serial++
	r.serial = s.serial
	if r.pinned {
		return
	}
	s.live++
	if s.max <= 0 {
		return
	}
	s.order = append(s.order, recordKey{table, id, r.serial})
	for s.live > s.max && s.evictOne() {
	}
	// Drop consumed and stale keys once they are most of the queue.
	if s.head > 1024 && s.head > len(s.order)/2 || len(s.order)-s.head > 4*s.max+1024 {
		kept := make([]recordKey, 0, s.live+s.live/4)
		for _, k := range s.order[s.head:] {
			if cur := s.tables[k.table][k.id]; cur != nil && cur.serial == k.serial {
				kept = append(kept, k)
			}
		}
		s.order, s.head = kept, 0
	}
}

// evictOne drops the oldest record not used since it was last passed over;
// false when there is nothing to drop.
func (s *store) evictOne() bool {
	for s.head < len(s.order) {
		k := s.order[s.head]
		s.head++
		cur := s.tables[k.table][k.id]
		if cur == nil || cur.serial != k.serial {
			continue // deleted, or created again later
		}
		if cur.used.Swap(false) {
			s.order = append(s.order, k) // second chance
			continue
		}
		delete(s.tables[k.table], k.id)
		s.live--
		s.evicted[k.table]++
		return true
	}
	return false
}

// removed accounts for a deleted record.
func (s *store) removed(r *record) {
	if !r.pinned {
		s.live--
	}
}

func (s *store) table(logical string) map[string]*record {
	t := s.tables[logical]
	if t == nil {
		t = map[string]*record{}
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
	fields map[string]any
	binds  []bind
}

// bind is one "<nav>@odata.bind" member.
type bind struct {
	lookup, target, id string // target and id empty: disassociate
}

// deepValue stands for a member whose value is an object or an array.
type deepValue struct{}

// parseWrite decodes a record body against the entity's metadata.
func parseWrite(ent *entity, body []byte, cat *catalog) (*writeSet, *dvError) {
	raw, deep, err := protocol.DecodeFlatObject(body, ent.internName)
	if err != nil {
		return nil, errSyntax("The request body must be a JSON object of columns: %v", err)
	}
	for k := range deep {
		raw[k] = deepValue{}
	}
	// raw becomes the write's field map: annotations and binds are taken
	// out of it in place (deleting while ranging is allowed).
	ws := &writeSet{fields: raw}
	for k, v := range raw {
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			b, derr := parseBind(ent, cat, nav, v)
			if derr != nil {
				return nil, derr
			}
			ws.binds = append(ws.binds, b)
			delete(raw, k)
			continue
		}
		if strings.Contains(k, "@") { // other annotations: ignored, as Dataverse does
			delete(raw, k)
			continue
		}
		if !ent.writable[k] {
			return nil, errUndeclaredProperty(k, ent.LogicalName)
		}
		if _, ok := v.(deepValue); ok {
			return nil, errSyntax("The emulator does not support deep insert: property '%s' must be a primitive value.", k)
		}
		if k == ent.PrimaryIDAttribute {
			s, ok := v.(string)
			id, err := uuid.Parse(s)
			if !ok || err != nil {
				return nil, errSyntax("Cannot convert the literal '%v' to the expected type 'Edm.Guid'.", v)
			}
			raw[k] = id.String()
		}
	}
	return ws, nil
}

func parseBind(ent *entity, cat *catalog, nav string, v any) (bind, *dvError) {
	lookup, target, ok := ent.resolveLookup(nav)
	if !ok {
		return bind{}, errUndeclaredProperty(nav, ent.LogicalName)
	}
	if v == nil {
		return bind{lookup: lookup}, nil
	}
	s, ok := v.(string)
	if !ok {
		return bind{}, errSyntax("The value of '%s@odata.bind' must be a URI like '/contacts(<guid>)'.", nav)
	}
	set, id, derr := parseEntityRef(s)
	if derr != nil {
		return bind{}, derr
	}
	te := cat.bySet[set]
	if te == nil {
		return bind{}, errSegment(set)
	}
	allowed := ent.Lookups[lookup]
	if target != "" && te.LogicalName != target || !containsStr(allowed, te.LogicalName) {
		return bind{}, errSyntax("The lookup '%s' of '%s' cannot point to an entity of type '%s'.", nav, ent.LogicalName, te.LogicalName)
	}
	return bind{lookup: lookup, target: te.LogicalName, id: id}, nil
}

// parseEntityRef parses "/contacts(<guid>)", "contacts(<guid>)" or an
// absolute URL ending in that.
func parseEntityRef(s string) (set, id string, derr *dvError) {
	seg := s
	if i := strings.LastIndex(seg, "/"); i >= 0 {
		seg = seg[i+1:]
	}
	open := strings.IndexByte(seg, '(')
	if open <= 0 || !strings.HasSuffix(seg, ")") {
		return "", "", errSyntax("'%s' is not a valid entity reference: use '/<entityset>(<guid>)'.", s)
	}
	u, err := uuid.Parse(seg[open+1 : len(seg)-1])
	if err != nil {
		return "", "", errSyntax("'%s' is not a valid entity reference: the key is not a GUID.", s)
	}
	return seg[:open], u.String(), nil
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
}

// applyWrite copies a write set into r, resolving binds. Called with mu held.
func (e *Emulator) applyWrite(ent *entity, r *record, ws *writeSet) *dvError {
	for _, b := range ws.binds {
		col := lookupValueCol(b.lookup)
		if b.id == "" {
			r.fields[col] = nil
			delete(r.targets, b.lookup)
			continue
		}
		target := e.store.tables[b.target][b.id]
		if target == nil {
			return errNotFound(b.target, b.id)
		}
		target.used.Store(true) // referenced: keep it past the next eviction
		r.fields[col] = b.id
		if r.targets == nil {
			r.targets = map[string]string{}
		}
		r.targets[b.lookup] = b.target
	}
	for k, v := range ws.fields {
		r.fields[k] = v
	}
	if ent.computedName {
		first, _ := r.fields["firstname"].(string)
		last, _ := r.fields["lastname"].(string)
		r.fields["fullname"] = strings.TrimSpace(first + " " + last)
	}
	return nil
}

func (e *Emulator) stamp() string { return e.now().UTC().Format(time.RFC3339) }

// create inserts a record. A client-supplied primary key that exists fails
// with 412 / 0x80040237.
func (e *Emulator) create(ent *entity, ws *writeSet, opts writeOpts) (*record, *dvError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.createLocked(ent, ws, opts)
}

func (e *Emulator) createLocked(ent *entity, ws *writeSet, opts writeOpts) (*record, *dvError) {
	t := e.store.table(ent.LogicalName)
	id, _ := ws.fields[ent.PrimaryIDAttribute].(string)
	if id == "" {
		id = uuid.NewString()
	} else if t[id] != nil {
		return nil, errDuplicateKey()
	}
	now := e.stamp()
	// The new record takes the parsed field map itself (a writeSet is used
	// once): one map per create instead of a copy of a copy.
	r := &record{fields: ws.fields, pinned: opts.pinned}
	ws.fields = nil
	if r.fields == nil {
		r.fields = make(map[string]any, 4)
	}
	if derr := e.applyWrite(ent, r, ws); derr != nil {
		return nil, derr
	}
	r.fields[ent.PrimaryIDAttribute] = id
	r.fields[colCreatedOn] = now
	r.fields[colModifiedOn] = now
	if opts.dupDetect {
		if derr := e.checkDuplicates(ent, id, r, opts.onCIF); derr != nil {
			return nil, derr
		}
	}
	r.version = e.store.nextVersion()
	t[id] = r
	e.store.added(ent.LogicalName, id, r)
	return r, nil
}

// update changes an existing record; when upsert is true a missing record is
// created with that id. created reports which happened.
func (e *Emulator) update(ent *entity, id string, ws *writeSet, upsert bool, opts writeOpts) (r *record, created bool, derr *dvError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.store.table(ent.LogicalName)
	cur := t[id]
	if cur == nil {
		if !upsert || opts.ifMatch != "" {
			return nil, false, errNotFound(ent.LogicalName, id)
		}
		if pk, ok := ws.fields[ent.PrimaryIDAttribute].(string); ok && pk != id {
			return nil, false, errSyntax("The primary key in the body '%s' does not match the key in the URL '%s'.", pk, id)
		}
		ws.fields[ent.PrimaryIDAttribute] = id
		r, derr := e.createLocked(ent, ws, opts)
		return r, derr == nil, derr
	}
	if opts.ifNone {
		return nil, false, errDuplicateKey()
	}
	if opts.ifMatch != "" && opts.ifMatch != "*" && opts.ifMatch != cur.etag() {
		return nil, false, &dvError{http.StatusPreconditionFailed, CodeVersionMismatch, msgVersion}
	}
	if pk, ok := ws.fields[ent.PrimaryIDAttribute].(string); ok && pk != id {
		return nil, false, errSyntax("The primary key in the body '%s' does not match the key in the URL '%s'.", pk, id)
	}
	next := cur.clone()
	if derr := e.applyWrite(ent, next, ws); derr != nil {
		return nil, false, derr
	}
	if opts.dupDetect {
		if derr := e.checkDuplicates(ent, id, next, opts.onCIF); derr != nil {
			return nil, false, derr
		}
	}
	next.fields[colModifiedOn] = e.stamp()
	next.version = e.store.nextVersion()
	next.used.Store(true)
	t[id] = next
	return next, false, nil
}

func (r *record) clone() *record {
	return &record{fields: maps.Clone(r.fields), targets: maps.Clone(r.targets), version: r.version, serial: r.serial, pinned: r.pinned}
}

// remove deletes a record.
func (e *Emulator) remove(ent *entity, id string) *dvError {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.store.tables[ent.LogicalName]
	if t[id] == nil {
		return errNotFound(ent.LogicalName, id)
	}
	e.store.removed(t[id])
	delete(t, id)
	return nil
}

// checkDuplicates runs the rules of ent against the other records. Called
// with mu held.
func (e *Emulator) checkDuplicates(ent *entity, id string, r *record, onCIF bool) *dvError {
	for _, rule := range e.rules {
		if rule.Entity != ent.LogicalName || onCIF && !rule.OnCIF {
			continue
		}
		for otherID, other := range e.store.tables[ent.LogicalName] {
			if otherID != id && sameOn(rule.Attributes, r, other) {
				return errDuplicateRule()
			}
		}
	}
	return nil
}

func sameOn(attrs []string, a, b *record) bool {
	for _, k := range attrs {
		x, y := valueString(a.fields[k]), valueString(b.fields[k])
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
	var created []string
	for i, row := range rows {
		ws, derr := parseWrite(ent, row, e.cat)
		if derr == nil {
			var r *record
			r, derr = e.createLocked(ent, ws, writeOpts{pinned: true})
			if derr == nil {
				created = append(created, r.fields[ent.PrimaryIDAttribute].(string))
				continue
			}
		}
		for _, id := range created { // roll back so that a later pass can retry the table
			delete(e.store.tables[name], id)
		}
		return fmt.Errorf("seed: %s[%d]: %s", name, i, derr.Message)
	}
	return nil
}
