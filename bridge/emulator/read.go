package emulator

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// view renders a record as Dataverse returns it: @odata.etag, the primary
// key, the selected columns (every declared column, null when unset, when
// selects is nil) and the expanded lookups. Called with mu held (read).
func (e *Emulator) view(ent *entity, r *record, selects []string, expands []expandOpt) map[string]any {
	out := map[string]any{"@odata.etag": r.etag(), ent.PrimaryIDAttribute: r.fields.get(ent.PrimaryIDAttribute)}
	if selects == nil {
		for c := range ent.columns {
			out[c] = r.fields.get(c)
		}
	} else {
		for _, c := range selects {
			out[c] = r.fields.get(c)
		}
	}
	for _, x := range expands {
		if x.many != nil {
			out[x.nav] = e.expandCollection(ent, r, x.many)
			continue
		}
		out[x.nav] = e.expanded(r, x)
	}
	return out
}

func (e *Emulator) expanded(r *record, x expandOpt) any {
	id := r.fields.str(lookupValueCol(x.lookup))
	target := r.targets.str(x.lookup)
	if id == "" || target == "" || x.target != "" && x.target != target {
		return nil
	}
	rel := e.store.get(target, id)
	if rel == nil {
		return nil
	}
	tent := e.cat.byLogical[target]
	var sel []string
	if x.selects != nil {
		sel = []string{}
		for _, c := range x.selects {
			if tent.columns[c] {
				sel = append(sel, c)
			}
		}
	}
	return e.view(tent, rel, sel, x.expands)
}

// retrieve reads one record.
func (e *Emulator) retrieve(ent *entity, id string, q *query) (map[string]any, *dvError) {
	if q.apply != nil {
		return nil, errSyntax("$apply applies to a collection such as %s, not to one record.", ent.EntitySetName)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	r := e.store.get(ent.LogicalName, id)
	if r == nil {
		return nil, e.notFoundLocked(ent.LogicalName, id)
	}
	e.store.markUsed(r)
	out := e.view(ent, r, q.selects, q.expands)
	e.annotate(ent, r, out, q.ann)
	return out, nil
}

// search returns the records matching q, ordered by $orderby (then by
// createdon and id, so results are stable) and cut at $top and at limit
// (0: no limit): protocol.MaxSearchRecords for CIF's search, none for the
// Web API face, which pages.
func (e *Emulator) search(ent *entity, q *query, limit int) []map[string]any {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var hits []*record
	for _, r := range e.store.tables[ent.LogicalName].all() {
		if q.filter == nil || q.filter.match(r) {
			hits = append(hits, r)
		}
	}
	// Sort on the order-by values read once per record, not per comparison.
	keys := append(slices.Clone(q.orderby), orderKey{col: colCreatedOn}, orderKey{col: ent.PrimaryIDAttribute})
	type hit struct {
		r    *record
		vals []any
	}
	sorted := make([]hit, len(hits))
	for i, r := range hits {
		vals := make([]any, len(keys))
		for j, k := range keys {
			vals[j] = r.fields.get(k.col)
		}
		sorted[i] = hit{r, vals}
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		for n, k := range keys {
			c := compareValues(sorted[i].vals[n], sorted[j].vals[n])
			if c != 0 {
				return c < 0 != k.desc
			}
		}
		return false
	})
	for i := range sorted {
		hits[i] = sorted[i].r
	}
	if q.top > 0 && len(hits) > q.top {
		hits = hits[:q.top]
	}
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]map[string]any, len(hits))
	for i, r := range hits {
		out[i] = e.view(ent, r, q.selects, q.expands)
		e.annotate(ent, r, out[i], q.ann)
	}
	return out
}

// compareValues orders two stored values: null first, numbers numerically,
// everything else as case-insensitive strings.
func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	if x, ok := a.(json.Number); ok {
		if y, ok := b.(json.Number); ok {
			fx, _ := x.Float64()
			fy, _ := y.Float64()
			switch {
			case fx < fy:
				return -1
			case fx > fy:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(strings.ToLower(valueString(a)), strings.ToLower(valueString(b)))
}

// searchResult encodes records as CIF's search result (protocol.IndexedObject).
func searchResult(recs []map[string]any) (json.RawMessage, error) {
	raws := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, protocol.Errorf(protocol.CodeInternal, "encode search result: %v", err)
		}
		raws[i] = b
	}
	return protocol.IndexedObject(raws), nil
}
