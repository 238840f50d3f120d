package emulator

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FetchXML (?fetchXml= on an entity set, on the Web API face and in a CIF
// search's query string). What it implements:
//
//	<fetch top count page paging-cookie aggregate distinct returntotalrecordcount>
//	  <entity name>
//	    <attribute name [alias aggregate=count|countcolumn|sum|avg|min|max groupby=true]/> | <all-attributes/>
//	    <order attribute|alias [descending]/>
//	    <filter type=and|or> <condition attribute operator value>[<value>…]</condition> <filter>…</filter> </filter>
//	    <link-entity name from to [alias] [link-type=inner|outer]> attribute, all-attributes, filter </link-entity>
//
// Condition operators: eq ne neq gt ge lt le like not-like begins-with
// not-begin-with ends-with not-end-with in not-in null not-null between
// not-between on not-on on-or-after on-or-before today yesterday tomorrow
// this-month last-month next-month this-year last-year next-year
// last-x-hours next-x-hours last-x-days next-x-days last-x-months
// next-x-months older-x-days eq-userid ne-userid. Everything else (other
// operators, nested link-entities, conditions naming another entity,
// date grouping, unknown elements and attributes) is refused by name.

// CodeFetchAttribute is Dataverse's "entity doesn't contain attribute".
const CodeFetchAttribute = "0x80041103"

type fetchDoc struct {
	XMLName      xml.Name    `xml:"fetch"`
	Top          string      `xml:"top,attr"`
	Count        string      `xml:"count,attr"`
	Page         string      `xml:"page,attr"`
	PagingCookie string      `xml:"paging-cookie,attr"`
	Aggregate    string      `xml:"aggregate,attr"`
	Distinct     string      `xml:"distinct,attr"`
	ReturnTotal  string      `xml:"returntotalrecordcount,attr"`
	Attrs        []xml.Attr  `xml:",any,attr"`
	Entity       *fetchNode  `xml:"entity"`
	Other        []fetchElem `xml:",any"`
}

// fetchNode is an entity or a link-entity.
type fetchNode struct {
	Name       string        `xml:"name,attr"`
	From       string        `xml:"from,attr"`
	To         string        `xml:"to,attr"`
	Alias      string        `xml:"alias,attr"`
	LinkType   string        `xml:"link-type,attr"`
	Attrs      []xml.Attr    `xml:",any,attr"`
	Attributes []fetchAttr   `xml:"attribute"`
	All        []fetchElem   `xml:"all-attributes"`
	Orders     []fetchOrder  `xml:"order"`
	Filters    []fetchFilter `xml:"filter"`
	Links      []fetchNode   `xml:"link-entity"`
	Other      []fetchElem   `xml:",any"`
}

type fetchAttr struct {
	Name      string     `xml:"name,attr"`
	Alias     string     `xml:"alias,attr"`
	Aggregate string     `xml:"aggregate,attr"`
	GroupBy   string     `xml:"groupby,attr"`
	Attrs     []xml.Attr `xml:",any,attr"`
}

type fetchOrder struct {
	Attribute  string     `xml:"attribute,attr"`
	Alias      string     `xml:"alias,attr"`
	Descending string     `xml:"descending,attr"`
	Attrs      []xml.Attr `xml:",any,attr"`
}

type fetchFilter struct {
	Type       string        `xml:"type,attr"`
	Attrs      []xml.Attr    `xml:",any,attr"`
	Conditions []fetchCond   `xml:"condition"`
	Filters    []fetchFilter `xml:"filter"`
	Other      []fetchElem   `xml:",any"`
}

type fetchCond struct {
	Attribute  string      `xml:"attribute,attr"`
	Operator   string      `xml:"operator,attr"`
	Value      *string     `xml:"value,attr"`
	EntityName string      `xml:"entityname,attr"`
	Attrs      []xml.Attr  `xml:",any,attr"`
	Values     []string    `xml:"value"`
	Other      []fetchElem `xml:",any"`
}

type fetchElem struct{ XMLName xml.Name }

// maxFetchXML bounds the document.
const maxFetchXML = 64 << 10

// ignoredFetchAttrs are attributes that change nothing the emulator
// computes (hints and output options).
var ignoredFetchAttrs = map[string]bool{
	"version": true, "mapping": true, "output-format": true, "no-lock": true, "useraworderby": true,
	"latematerialize": true, "options": true, "datasource": true, "intellisense": true, "enableprefiltering": true,
}

// fetchQuery is a parsed FetchXML document.
type fetchQuery struct {
	ent       *entity
	all       bool
	cols      []fetchCol
	filter    filterNode
	links     []fetchLink
	orders    []fetchSort
	aggregate bool
	distinct  bool
	total     bool
	top       int
	count     int // page size, 0: none
	page      int
}

type fetchCol struct {
	col       string // stored column (lookup names resolved to _x_value)
	key       string // key in the output row
	aggregate string
	groupby   bool
}

type fetchLink struct {
	ent      *entity
	from, to string // stored columns: from on the linked record, to on the parent
	outer    bool
	prefix   string // "alias."
	all      bool
	cols     []fetchCol
	filter   filterNode
}

type fetchSort struct {
	col  string // a column of the entity ("" for an alias)
	key  string // an aggregate's alias
	desc bool
}

func errFetch(format string, args ...any) *dvError {
	return errSyntax("FetchXML: "+format, args...)
}

// parseFetch parses a FetchXML document for the entity ent (the entity set
// it was sent to).
func (e *Emulator) parseFetch(ent *entity, doc string) (*fetchQuery, *dvError) {
	if len(doc) > maxFetchXML {
		return nil, errFetch("the document is longer than %d bytes", maxFetchXML)
	}
	var d fetchDoc
	if err := xml.Unmarshal([]byte(doc), &d); err != nil {
		return nil, errFetch("the document is not valid XML with a <fetch> root: %v", err)
	}
	if derr := refuseExtras("fetch", d.Attrs, d.Other); derr != nil {
		return nil, derr
	}
	if d.Entity == nil {
		return nil, errFetch("<fetch> needs an <entity name=\"%s\"> element", ent.LogicalName)
	}
	if d.Entity.Name != ent.LogicalName {
		return nil, errFetch("the entity '%s' does not match the entity set '%s' the query was sent to", d.Entity.Name, ent.EntitySetName)
	}
	q := &fetchQuery{ent: ent, aggregate: d.Aggregate == "true", distinct: d.Distinct == "true", total: d.ReturnTotal == "true"}
	var derr *dvError
	if q.top, derr = fetchInt("top", d.Top, 1, maxTop); derr != nil {
		return nil, derr
	}
	if q.count, derr = fetchInt("count", d.Count, 1, maxTop); derr != nil {
		return nil, derr
	}
	if q.page, derr = fetchInt("page", d.Page, 1, 1<<20); derr != nil {
		return nil, derr
	}
	if q.top > 0 && (q.count > 0 || q.page > 0) {
		return nil, errFetch("the top attribute can't be specified with the paging attributes count and page")
	}
	if q.page == 0 {
		q.page = 1
	}
	n := d.Entity
	if derr := refuseExtras("entity", n.Attrs, n.Other); derr != nil {
		return nil, derr
	}
	if q.all, q.cols, derr = fetchColumns(ent, n, "", q.aggregate); derr != nil {
		return nil, derr
	}
	fp := &filterParser{ent: ent, ctx: e.cat.filterCtx}
	if q.filter, derr = fetchFilters(fp, n.Filters); derr != nil {
		return nil, derr
	}
	for _, o := range n.Orders {
		if derr := refuseExtras("order", o.Attrs, nil); derr != nil {
			return nil, derr
		}
		srt := fetchSort{key: o.Alias, desc: o.Descending == "true"}
		if o.Alias == "" {
			if srt.col, derr = fetchColumn(ent, o.Attribute); derr != nil {
				return nil, derr
			}
		}
		if o.Alias != "" && !q.aggregate {
			return nil, errNotImplemented("<order alias> outside aggregate queries: order by attribute")
		}
		q.orders = append(q.orders, srt)
	}
	if len(n.Links) > 10 {
		return nil, errFetch("at most 10 <link-entity> elements, got %d", len(n.Links))
	}
	for i := range n.Links {
		l, derr := e.fetchLinkOf(ent, &n.Links[i], i)
		if derr != nil {
			return nil, derr
		}
		q.links = append(q.links, l)
	}
	if q.aggregate {
		for _, c := range q.cols {
			if c.aggregate == "" && !c.groupby {
				return nil, errFetch("in an aggregate query every <attribute> needs aggregate or groupby=\"true\" ('%s' has neither)", c.key)
			}
		}
		if q.all || len(q.links) > 0 {
			return nil, errFetch("the emulator's aggregate queries take <attribute> elements of the entity only (no all-attributes, no link-entity)")
		}
	}
	return q, nil
}

func fetchInt(name, v string, lo, hi int) (int, *dvError) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errFetch("the %s attribute must be a whole number from %d to %d, got '%s'", name, lo, hi, v)
	}
	return n, nil
}

// refuseExtras refuses attributes and elements the emulator does not
// implement, naming them.
func refuseExtras(where string, attrs []xml.Attr, elems []fetchElem) *dvError {
	for _, a := range attrs {
		if !ignoredFetchAttrs[a.Name.Local] {
			return errNotImplemented("the FetchXML attribute '%s' on <%s>", a.Name.Local, where)
		}
	}
	for _, el := range elems {
		return errNotImplemented("the FetchXML element <%s> inside <%s>", el.XMLName.Local, where)
	}
	return nil
}

// fetchColumn resolves an attribute name of ent to its stored column.
func fetchColumn(ent *entity, name string) (string, *dvError) {
	if ent.columns[name] {
		return name, nil
	}
	if c := lookupValueCol(name); ent.columns[c] {
		return c, nil
	}
	return "", &dvError{http.StatusBadRequest, CodeFetchAttribute,
		fmt.Sprintf("'%s' entity doesn't contain attribute with Name = '%s' and NameMapping = 'Logical'.", ent.LogicalName, name)}
}

func fetchColumns(ent *entity, n *fetchNode, prefix string, aggregate bool) (bool, []fetchCol, *dvError) {
	var cols []fetchCol
	for _, a := range n.Attributes {
		if derr := refuseExtras("attribute", a.Attrs, nil); derr != nil {
			return false, nil, derr
		}
		col, derr := fetchColumn(ent, a.Name)
		if derr != nil {
			return false, nil, derr
		}
		c := fetchCol{col: col, key: prefix + col, groupby: a.GroupBy == "true"}
		if a.Aggregate != "" || c.groupby {
			if !aggregate {
				return false, nil, errFetch("aggregate and groupby need <fetch aggregate=\"true\">")
			}
			switch a.Aggregate {
			case "", "count", "countcolumn", "sum", "avg", "min", "max":
			default:
				return false, nil, errFetch("aggregate must be count, countcolumn, sum, avg, min or max, got '%s'", a.Aggregate)
			}
			if a.Alias == "" {
				return false, nil, errFetch("the aggregate or groupby attribute '%s' needs an alias", a.Name)
			}
			c.aggregate = a.Aggregate
		}
		if a.Alias != "" {
			c.key = a.Alias
		}
		cols = append(cols, c)
	}
	return len(n.All) > 0, cols, nil
}

// fetchLinkOf compiles a link-entity of parent.
func (e *Emulator) fetchLinkOf(parent *entity, n *fetchNode, i int) (fetchLink, *dvError) {
	if derr := refuseExtras("link-entity", n.Attrs, n.Other); derr != nil {
		return fetchLink{}, derr
	}
	if len(n.Links) > 0 {
		return fetchLink{}, errNotImplemented("nested <link-entity> elements")
	}
	if len(n.Orders) > 0 {
		return fetchLink{}, errNotImplemented("<order> inside <link-entity>: order by the main entity's attributes")
	}
	ent := e.cat.byLogical[n.Name]
	if ent == nil {
		return fetchLink{}, errFetch("<link-entity name=\"%s\">: no such entity", n.Name)
	}
	l := fetchLink{ent: ent}
	switch n.LinkType {
	case "", "inner":
	case "outer":
		l.outer = true
	default:
		return fetchLink{}, errNotImplemented("link-type '%s' (it implements inner and outer)", n.LinkType)
	}
	var derr *dvError
	if l.from, derr = fetchColumn(ent, n.From); derr != nil {
		return fetchLink{}, derr
	}
	if l.to, derr = fetchColumn(parent, n.To); derr != nil {
		return fetchLink{}, derr
	}
	alias := n.Alias
	if alias == "" {
		alias = n.Name + strconv.Itoa(i+1)
	}
	l.prefix = alias + "."
	if l.all, l.cols, derr = fetchColumns(ent, n, l.prefix, false); derr != nil {
		return fetchLink{}, derr
	}
	if l.filter, derr = fetchFilters(&filterParser{ent: ent, ctx: e.cat.filterCtx}, n.Filters); derr != nil {
		return fetchLink{}, derr
	}
	return l, nil
}

// fetchFilters ANDs the filters of one node (nil: no filter).
func fetchFilters(p *filterParser, fs []fetchFilter) (filterNode, *dvError) {
	var out filterNode
	for i := range fs {
		n, derr := fetchFilterNode(p, &fs[i], 0)
		if derr != nil {
			return nil, derr
		}
		out = andNode(out, n)
	}
	return out, nil
}

func andNode(a, b filterNode) filterNode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &logicNode{"and", a, b}
}

// trueNode matches every record (an empty filter).
type trueNode struct{}

func (trueNode) match(*record) bool { return true }
func (trueNode) String() string     { return "true" }

func fetchFilterNode(p *filterParser, f *fetchFilter, depth int) (filterNode, *dvError) {
	if depth > maxFilterDepth {
		return nil, errFetch("filters are nested too deeply")
	}
	if derr := refuseExtras("filter", f.Attrs, f.Other); derr != nil {
		return nil, derr
	}
	op := "and"
	switch f.Type {
	case "", "and":
	case "or":
		op = "or"
	default:
		return nil, errFetch("filter type must be 'and' or 'or', got '%s'", f.Type)
	}
	var parts []filterNode
	for i := range f.Conditions {
		n, derr := fetchCondition(p, &f.Conditions[i])
		if derr != nil {
			return nil, derr
		}
		parts = append(parts, n)
	}
	for i := range f.Filters {
		n, derr := fetchFilterNode(p, &f.Filters[i], depth+1)
		if derr != nil {
			return nil, derr
		}
		parts = append(parts, n)
	}
	if len(parts) == 0 {
		return trueNode{}, nil
	}
	out := parts[0]
	for _, n := range parts[1:] {
		out = &logicNode{op, out, n}
	}
	return out, nil
}

// fetchFunctions maps FetchXML operators to the $filter query functions
// that compute the same thing.
var fetchFunctions = map[string]string{
	"on": "On", "not-on": "NotOn", "on-or-after": "OnOrAfter", "on-or-before": "OnOrBefore",
	"today": "Today", "yesterday": "Yesterday", "tomorrow": "Tomorrow",
	"this-month": "ThisMonth", "last-month": "LastMonth", "next-month": "NextMonth",
	"this-year": "ThisYear", "last-year": "LastYear", "next-year": "NextYear",
	"last-x-hours": "LastXHours", "next-x-hours": "NextXHours", "last-x-days": "LastXDays", "next-x-days": "NextXDays",
	"last-x-months": "LastXMonths", "next-x-months": "NextXMonths", "older-x-days": "OlderThanXDays",
	"eq-userid": "EqualUserId", "ne-userid": "NotEqualUserId",
	"in": "In", "not-in": "NotIn", "between": "Between", "not-between": "NotBetween",
}

func fetchCondition(p *filterParser, c *fetchCond) (filterNode, *dvError) {
	if derr := refuseExtras("condition", c.Attrs, c.Other); derr != nil {
		return nil, derr
	}
	if c.EntityName != "" {
		return nil, errNotImplemented("conditions on another entity (entityname=\"%s\"): put the condition in that <link-entity>'s filter", c.EntityName)
	}
	col, derr := fetchColumn(p.ent, c.Attribute)
	if derr != nil {
		return nil, derr
	}
	value := func() (string, *dvError) {
		if c.Value == nil {
			if len(c.Values) == 1 {
				return c.Values[0], nil
			}
			return "", errFetch("the condition on '%s' with operator '%s' needs a value", c.Attribute, c.Operator)
		}
		return *c.Value, nil
	}
	typed := func(v string) (literal, *dvError) { return fetchLiteral(p.ent, col, v) }
	switch op := c.Operator; op {
	case "eq", "ne", "neq", "gt", "ge", "lt", "le":
		v, derr := value()
		if derr != nil {
			return nil, derr
		}
		lit, derr := typed(v)
		if derr != nil {
			return nil, derr
		}
		if op == "neq" {
			op = "ne"
		}
		return &cmpNode{col: col, op: op, lit: lit}, nil
	case "null", "not-null":
		op := "eq"
		if c.Operator == "not-null" {
			op = "ne"
		}
		return &cmpNode{col: col, op: op, lit: literal{kind: litNull}}, nil
	case "like", "not-like", "begins-with", "not-begin-with", "ends-with", "not-end-with":
		v, derr := value()
		if derr != nil {
			return nil, derr
		}
		switch op {
		case "begins-with", "not-begin-with":
			v = escapeLike(v) + "%"
		case "ends-with", "not-end-with":
			v = "%" + escapeLike(v)
		}
		return &likeNode{col: col, pattern: strings.ToLower(v), not: strings.HasPrefix(op, "not-")}, nil
	}
	fn := fetchFunctions[c.Operator]
	if fn == "" {
		return nil, errNotImplemented("the FetchXML operator '%s'", c.Operator)
	}
	a := crmArgs{name: c.Attribute}
	switch fn {
	case "In", "NotIn", "Between", "NotBetween":
		vals := c.Values
		if c.Value != nil {
			vals = append([]string{*c.Value}, vals...)
		}
		for _, v := range vals {
			lit, derr := typed(v)
			if derr != nil {
				return nil, derr
			}
			a.values = append(a.values, lit)
		}
	default:
		if v, derr := value(); derr == nil {
			lit := literal{kind: litString, text: v}
			a.value = &lit
		}
	}
	return p.crmNode(fn, "fetch:"+c.Operator, a)
}

// fetchLiteral types a condition value by the column's type.
func fetchLiteral(ent *entity, col, v string) (literal, *dvError) {
	bad := func(t string) (literal, *dvError) {
		return literal{}, errFetch("the value '%s' of '%s' is not a valid %s", v, col, t)
	}
	switch ent.attributeType(col) {
	case "Integer", "BigInt", "Picklist", "State", "Status", "Money", "Decimal", "Double":
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return bad("number")
		}
		return literal{kind: litNumber, text: strings.TrimSpace(v), num: f}, nil
	case "Boolean":
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "true":
			return literal{kind: litBool, b: true}, nil
		case "0", "false":
			return literal{kind: litBool}, nil
		}
		return bad("boolean (0, 1, true or false)")
	case "DateTime":
		t, ok := parseTime(strings.TrimSpace(v))
		if !ok {
			return bad("date or date-time")
		}
		return literal{kind: litDateTime, text: v, t: t}, nil
	}
	if strings.HasPrefix(col, "_") && strings.HasSuffix(col, "_value") || col == ent.PrimaryIDAttribute {
		id, ok := normalizeID(strings.Trim(strings.TrimSpace(v), "{}"))
		if !ok {
			return bad("GUID")
		}
		return literal{kind: litGUID, text: id}, nil
	}
	return literal{kind: litString, text: v}, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer("[", "[[]", "%", "[%]", "_", "[_]").Replace(s)
}

// likeNode is SQL LIKE, case-insensitive: % any run, _ one character,
// [x] the character x.
type likeNode struct {
	col     string
	pattern string // lower-cased
	not     bool
}

func (n *likeNode) String() string { return "like(" + n.col + "," + n.pattern + ")" }
func (n *likeNode) match(r *record) bool {
	kind, text, _ := r.fields.find(n.col)
	if kind != kindString {
		return false
	}
	return likeMatch(strings.ToLower(string(text)), n.pattern) != n.not
}

// likeMatch matches s against a LIKE pattern (both lower-cased) with
// backtracking over the last %.
func likeMatch(s, p string) bool {
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch {
			case p[pi] == '%':
				starP, starS = pi, si
				pi++
				continue
			case p[pi] == '[':
				if end := strings.IndexByte(p[min(pi+2, len(p)):], ']'); end >= 0 { // "[]]" holds a "]"
					set := p[pi+1 : pi+2+end]
					r, n := utf8.DecodeRuneInString(s[si:])
					if inLikeSet(set, r) {
						si += n
						pi += end + 3
						continue
					}
				}
			case p[pi] == '_':
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			default:
				r, n := utf8.DecodeRuneInString(s[si:])
				pr, pn := utf8.DecodeRuneInString(p[pi:])
				if r == pr {
					si += n
					pi += pn
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		si, pi = starS, starP+1
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// inLikeSet reports whether r is in the set of a LIKE "[…]": characters
// and ranges ("a-f"), none of them after a leading "^".
func inLikeSet(set string, r rune) bool {
	not := false
	if len(set) > 1 && set[0] == '^' {
		not, set = true, set[1:]
	}
	in := false
	for i := 0; i < len(set); {
		lo, n := utf8.DecodeRuneInString(set[i:])
		i += n
		hi := lo
		if i+1 < len(set) && set[i] == '-' {
			hi, n = utf8.DecodeRuneInString(set[i+1:])
			i += 1 + n
		}
		if lo <= r && r <= hi {
			in = true
		}
	}
	return in != not
}

// fetchResult is one page of a FetchXML query.
type fetchResult struct {
	rows  []map[string]any
	more  bool
	total int
	page  int
}

// maxFetchRows bounds the joined rows one query may build (joins multiply).
const maxFetchRows = 10 * maxTop

// runFetch evaluates q over the store.
func (e *Emulator) runFetch(q *fetchQuery) (fetchResult, *dvError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ent := q.ent
	var hits []*record
	for _, r := range e.store.tables[ent.LogicalName].all() {
		if q.filter == nil || q.filter.match(r) {
			hits = append(hits, r)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		for _, o := range q.orders { // the entity's own columns, selected or not
			if o.col == "" {
				continue
			}
			if c := compareValues(hits[i].fields.get(o.col), hits[j].fields.get(o.col)); c != 0 {
				return c < 0 != o.desc
			}
		}
		if c := compareValues(hits[i].fields.get(colCreatedOn), hits[j].fields.get(colCreatedOn)); c != 0 {
			return c < 0
		}
		return hits[i].fields.str(ent.PrimaryIDAttribute) < hits[j].fields.str(ent.PrimaryIDAttribute)
	})
	var rows []map[string]any
	for _, r := range hits {
		base := map[string]any{}
		if !q.aggregate && !q.distinct { // distinct rows carry only what was asked for
			base["@odata.etag"] = r.etag()
			base[ent.PrimaryIDAttribute] = r.fields.get(ent.PrimaryIDAttribute)
		}
		if q.all {
			for c := range ent.columns {
				base[c] = r.fields.get(c)
			}
		}
		for _, c := range q.cols {
			base[c.key] = r.fields.get(c.col)
		}
		joined := []map[string]any{base}
		for _, l := range q.links {
			joined = e.join(joined, r, l)
		}
		rows = append(rows, joined...)
		if len(rows) > maxFetchRows {
			return fetchResult{}, errFetch("the query joins to more than %d rows: add filters", maxFetchRows)
		}
	}
	if q.aggregate {
		rows = aggregateRows(q, hits)
	}
	if q.distinct {
		rows = distinctRows(rows)
	}
	if q.aggregate && len(q.orders) > 0 {
		sort.SliceStable(rows, func(i, j int) bool {
			for _, o := range q.orders {
				key := o.key
				if key == "" {
					key = o.col
				}
				if c := compareValues(rows[i][key], rows[j][key]); c != 0 {
					return c < 0 != o.desc
				}
			}
			return false
		})
	}
	res := fetchResult{total: len(rows), page: q.page}
	if q.top > 0 && len(rows) > q.top {
		rows = rows[:q.top]
	}
	size := q.count
	if size == 0 {
		size = maxTop
	}
	start := min((q.page-1)*size, len(rows))
	end := min(start+size, len(rows))
	res.more = end < len(rows)
	res.rows = rows[start:end]
	if res.rows == nil {
		res.rows = []map[string]any{} // "value": [], as Dataverse answers no rows
	}
	return res, nil
}

// join extends each row with the records of link l that match the parent
// record r: one row per match, or (outer) one row with nulls.
func (e *Emulator) join(rows []map[string]any, r *record, l fetchLink) []map[string]any {
	key := r.fields.str(l.to)
	var matches []*record
	if key != "" {
		for _, lr := range e.store.tables[l.ent.LogicalName].all() {
			if strings.EqualFold(lr.fields.str(l.from), key) && (l.filter == nil || l.filter.match(lr)) {
				matches = append(matches, lr)
			}
		}
		sort.Slice(matches, func(i, j int) bool {
			return matches[i].fields.str(l.ent.PrimaryIDAttribute) < matches[j].fields.str(l.ent.PrimaryIDAttribute)
		})
	}
	var out []map[string]any
	for _, row := range rows {
		if len(matches) == 0 {
			if !l.outer {
				continue
			}
			ext := cloneRow(row)
			for _, c := range l.cols {
				ext[c.key] = nil
			}
			out = append(out, ext)
			continue
		}
		for _, lr := range matches {
			ext := cloneRow(row)
			if l.all {
				for c := range l.ent.columns {
					ext[l.prefix+c] = lr.fields.get(c)
				}
			}
			for _, c := range l.cols {
				ext[c.key] = lr.fields.get(c.col)
			}
			out = append(out, ext)
		}
	}
	return out
}

func cloneRow(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func distinctRows(rows []map[string]any) []map[string]any {
	seen := map[string]bool{}
	var out []map[string]any
	for _, r := range rows {
		c := cloneRow(r)
		delete(c, "@odata.etag")
		b, _ := json.Marshal(c)
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, r)
		}
	}
	return out
}

// aggregateRows groups hits by the groupby attributes and computes the
// aggregates, one row per group keyed by the aliases.
func aggregateRows(q *fetchQuery, hits []*record) []map[string]any {
	type group struct {
		row  map[string]any
		recs []*record
	}
	var order []string
	groups := map[string]*group{}
	for _, r := range hits {
		key := ""
		row := map[string]any{}
		for _, c := range q.cols {
			if c.groupby {
				v := r.fields.get(c.col)
				row[c.key] = v
				key += valueString(v) + "\x00"
			}
		}
		g := groups[key]
		if g == nil {
			g = &group{row: row}
			groups[key] = g
			order = append(order, key)
		}
		g.recs = append(g.recs, r)
	}
	if len(groups) == 0 && !hasGroupBy(q) {
		groups[""] = &group{row: map[string]any{}}
		order = append(order, "")
	}
	var out []map[string]any
	for _, k := range order {
		g := groups[k]
		for _, c := range q.cols {
			if c.aggregate == "" {
				continue
			}
			g.row[c.key] = aggregate(c, g.recs)
		}
		out = append(out, g.row)
	}
	return out
}

func hasGroupBy(q *fetchQuery) bool {
	for _, c := range q.cols {
		if c.groupby {
			return true
		}
	}
	return false
}

func aggregate(c fetchCol, recs []*record) any {
	if c.aggregate == "count" {
		return len(recs)
	}
	var vals []any
	for _, r := range recs {
		if v := r.fields.get(c.col); v != nil {
			vals = append(vals, v)
		}
	}
	switch c.aggregate {
	case "countcolumn":
		return len(vals)
	case "countdistinct":
		seen := map[string]bool{}
		for _, v := range vals {
			seen[strings.ToLower(valueString(v))] = true
		}
		return len(seen)
	case "min", "max":
		var best any
		for _, v := range vals {
			if best == nil || (compareValues(v, best) < 0) == (c.aggregate == "min") {
				best = v
			}
		}
		return best
	}
	sum := 0.0
	for _, v := range vals {
		f, _ := strconv.ParseFloat(valueString(v), 64)
		sum += f
	}
	if c.aggregate == "sum" {
		return sum
	}
	if len(vals) == 0 {
		return nil
	}
	return sum / float64(len(vals))
}

// fetchPagingCookie is the @Microsoft.Dynamics.CRM.fetchxmlpagingcookie
// of a page that has more records: the next page number and a cookie the
// emulator accepts back (it pages by page number), URL-encoded twice as
// Dataverse's is, a space as %20: Microsoft's samples decode it with
// decodeURIComponent, which leaves a '+' a '+'.
func fetchPagingCookie(page int) string {
	inner := uriEscape(uriEscape(fmt.Sprintf(`<cookie page="%d"></cookie>`, page)))
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="False" />`, page+1, inner)
}

// uriEscape is encodeURIComponent: url.QueryEscape with a space as %20.
func uriEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// cutFetchXML returns the fetchXml parameter of a raw query string and
// whether one was there; other parameters with it are refused.
func cutFetchXML(raw string) (doc string, ok bool, derr *dvError) {
	if !containsFold(raw, "fetchxml") { // most queries: no allocation
		return "", false, nil
	}
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "?")
	for _, part := range strings.Split(raw, "&") {
		name, value, _ := strings.Cut(part, "=")
		if !strings.EqualFold(unescape(name), "fetchXml") {
			continue
		}
		d, err := url.QueryUnescape(value)
		if err != nil {
			return "", true, errFetch("the fetchXml parameter is not URL-encoded correctly: %v", err)
		}
		doc, ok = d, true
	}
	if ok {
		for _, part := range strings.Split(raw, "&") {
			name, _, _ := strings.Cut(part, "=")
			if n := unescape(name); part != "" && !strings.EqualFold(n, "fetchXml") {
				return "", true, errFetch("fetchXml cannot be combined with '%s'", n)
			}
		}
	}
	return doc, ok, nil
}

// containsFold reports whether s contains the ASCII word sub in any case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
