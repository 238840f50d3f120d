package emulator

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Collection-valued $expand: the records of another table whose lookup
// points at this one, by Dataverse's one-to-many relationship names:
//
//	accounts(<id>)?$expand=contact_customer_accounts($select=fullname;$filter=statecode eq 0;$orderby=lastname;$top=5)
//
// The names are those of the built-in tables' relationships (see
// oneToMany); a schema file's own lookups get none. Options inside:
// $select, $filter, $orderby, $top.

// manyRel is one one-to-many relationship: records of entity whose lookup
// points at the one side.
type manyRel struct {
	entity, lookup string
}

// oneToMany are Dataverse's relationship names for the built-in lookups,
// by the one side's logical name; init adds the activity relationships.
var oneToMany = map[string]map[string]manyRel{
	"account": {
		"contact_customer_accounts":  {"contact", "parentcustomerid"},
		"incident_customer_accounts": {"incident", "customerid"},
		"lead_parent_account":        {"lead", "parentaccountid"},
	},
	"contact": {
		"contact_customer_contacts":  {"contact", "parentcustomerid"},
		"incident_customer_contacts": {"incident", "customerid"},
		"account_primary_contact":    {"account", "primarycontactid"},
		"lead_parent_contact":        {"lead", "parentcontactid"},
	},
	"incident": {},
	"lead":     {},
}

// The phone calls and tasks regarding a record of each of those tables:
// Dataverse names these relationships <Table>_Phonecalls and <Table>_Tasks
// ("Account_Phonecalls").
func init() {
	for one, rels := range oneToMany {
		table := strings.ToUpper(one[:1]) + one[1:]
		rels[table+"_Phonecalls"] = manyRel{"phonecall", "regardingobjectid"}
		rels[table+"_Tasks"] = manyRel{"task", "regardingobjectid"}
	}
}

// collectionExpand is the compiled form of a collection-valued $expand.
type collectionExpand struct {
	rel     manyRel
	selects []string
	filter  filterNode
	orderby []orderKey
	top     int
}

// parseCollectionExpand compiles nav(opts) when nav is a one-to-many
// relationship of ent; ok is false when it is not one.
func parseCollectionExpand(cat *catalog, ent *entity, nav, inner string) (*collectionExpand, bool, *dvError) {
	rel, ok := oneToMany[ent.LogicalName][nav]
	if !ok {
		return nil, false, nil
	}
	many := cat.byLogical[rel.entity]
	if many == nil || !slices.Contains(many.Lookups[rel.lookup], ent.LogicalName) {
		return nil, false, nil // a schema changed the lookup: the relationship is not there
	}
	c := &collectionExpand{rel: rel}
	for _, opt := range splitTop(inner, ';') {
		opt = strings.TrimSpace(opt)
		if opt == "" {
			continue
		}
		name, v, _ := strings.Cut(opt, "=")
		var derr *dvError
		switch strings.TrimSpace(name) {
		case "$select":
			c.selects, derr = parseSelect(many, v)
		case "$filter":
			c.filter, derr = parseFilterCtx(many, v, cat.filterCtx)
		case "$orderby":
			c.orderby, derr = parseOrderBy(many, v)
		case "$top":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				derr = errSyntax("Invalid value '%s' for $top inside $expand.", v)
			}
			c.top = n
		default:
			derr = errSyntax("The emulator supports $select, $filter, $orderby and $top inside a collection-valued $expand, got '%s'.", opt)
		}
		if derr != nil {
			return nil, true, derr
		}
	}
	return c, true, nil
}

// expandCollection returns the related records of r. Called with mu held.
func (e *Emulator) expandCollection(ent *entity, r *record, c *collectionExpand) []map[string]any {
	many := e.cat.byLogical[c.rel.entity]
	id := r.fields.str(ent.PrimaryIDAttribute)
	col := lookupValueCol(c.rel.lookup)
	var hits []*record
	for _, m := range e.store.tables[many.LogicalName].all() {
		if strings.EqualFold(m.fields.str(col), id) && m.targets.str(c.rel.lookup) == ent.LogicalName &&
			(c.filter == nil || c.filter.match(m)) {
			hits = append(hits, m)
		}
	}
	keys := append(slices.Clone(c.orderby), orderKey{col: colCreatedOn}, orderKey{col: many.PrimaryIDAttribute})
	sort.SliceStable(hits, func(i, j int) bool {
		for _, k := range keys {
			if d := compareValues(hits[i].fields.get(k.col), hits[j].fields.get(k.col)); d != 0 {
				return d < 0 != k.desc
			}
		}
		return false
	})
	if c.top > 0 && len(hits) > c.top {
		hits = hits[:c.top]
	}
	out := make([]map[string]any, len(hits))
	for i, m := range hits {
		out[i] = e.view(many, m, c.selects, nil)
	}
	return out
}
