package emulator

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// maxTop is the largest page the emulator returns (Dataverse's default page).
const maxTop = 5000

// query is a parsed OData query string.
type query struct {
	selects []string // nil: every column
	filter  filterNode
	top     int // 0: no $top
	expands []expandOpt
	orderby []orderKey
	count   bool        // $count=true: the Web API face adds @odata.count
	apply   *fetchQuery // $apply: an aggregate query instead of records
	ann     annotations // Prefer: odata.include-annotations (Web API face)
}

type expandOpt struct {
	nav     string // as written
	lookup  string
	target  string            // set by polymorphic names like regardingobjectid_contact
	selects []string          // nil: every column
	expands []expandOpt       // nested $expand of the related record (its target is fixed)
	many    *collectionExpand // a collection-valued navigation property (expand_collection.go)
}

// contextPath is what follows "$metadata#" in the @odata.context of the
// records q reads from set, as Dataverse writes it: the $select list, each
// $expand with its own list, "accounts(name,primarycontactid(fullname),Account_Tasks(subject))";
// the set alone when q selects every column.
func (q *query) contextPath(set string) string {
	if q == nil || q.selects == nil {
		return set
	}
	return set + "(" + contextList(q.selects, q.expands) + ")"
}

func contextList(selects []string, expands []expandOpt) string {
	parts := slices.Clone(selects)
	for _, x := range expands {
		sel, nested := x.selects, x.expands
		if x.many != nil {
			sel, nested = x.many.selects, nil
		}
		parts = append(parts, x.nav+"("+contextList(sel, nested)+")")
	}
	return strings.Join(parts, ",")
}

// maxExpandDepth bounds nested $expand (Dataverse allows a few levels).
const maxExpandDepth = 5

type orderKey struct {
	col  string
	desc bool
}

// parseQuery parses "?$select=a,b&$filter=…&$top=5&$expand=nav($select=x)&$orderby=a desc&$count=true"
// (the leading "?" is optional). Values are percent-decoded (see unescape
// and webQuery for '+'). Parameter aliases ("$filter=revenue gt @p1&@p1=5")
// stand for their values in $filter and $orderby, as in Dataverse (see
// bindAliases). What the emulator does not implement is refused, never
// ignored: FetchXML and saved queries, and the system options $search,
// $skip and any other unknown one. Custom parameters (no $ or @) are
// ignored, as Dataverse ignores them.
func parseQuery(cat *catalog, ent *entity, qs string) (*query, *dvError) {
	qs = strings.TrimPrefix(strings.TrimSpace(qs), "?")
	q := &query{}
	parts := splitTop(qs, '&')
	var aliases map[string]string // "@p1" → its value, when the query has any
	if strings.ContainsAny(qs, "@") || strings.Contains(qs, "etch") || strings.Contains(qs, "Query") {
		for _, part := range parts { // before any option is parsed: "$filter=x eq @p1&@p1=…" defines the alias after its use
			name, value, _ := strings.Cut(part, "=")
			name = unescape(name)
			if strings.HasPrefix(name, "@") {
				if aliases == nil {
					aliases = map[string]string{}
				}
				aliases[name] = unescape(value)
				continue
			}
			if derr := refuseParameter(name); derr != nil {
				return nil, derr
			}
		}
	}
	var orderRaw string
	hasOrder := false
	var seenBuf [8]string // the options seen so far, on the stack
	seen := seenBuf[:0]
	for _, part := range parts {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		name, value = unescape(name), unescape(value)
		if !strings.HasPrefix(name, "$") {
			continue
		}
		if slices.Contains(seen, name) {
			return nil, errSyntax("Query option '%s' was specified more than once, but it must be specified at most once.", name)
		}
		seen = append(seen, name)
		var derr *dvError
		switch name {
		case "$select":
			q.selects, derr = parseSelect(ent, value)
		case "$filter":
			q.filter, derr = parseFilterCtx(ent, bindAliases(value, aliases), cat.filterCtx)
		case "$top":
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				return nil, errSyntax("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", value)
			}
			q.top = min(n, maxTop)
		case "$expand":
			q.expands, derr = parseExpand(cat, ent, value)
		case "$orderby":
			orderRaw, hasOrder = bindAliases(value, aliases), true // parsed last: with $apply it names aliases
		case "$count":
			switch strings.TrimSpace(value) {
			case "true":
				q.count = true
			case "false":
			default:
				derr = errSyntax("Invalid value '%s' for $count query option found. Valid values are 'true' and 'false'.", value)
			}
		case "$apply":
			q.apply, derr = parseApply(ent, value, cat.filterCtx)
		case "$search", "$skip", "$levels", "$compute", "$index", "$schemaversion", "$format":
			derr = errNotImplemented("the query option '%s'", name)
		default:
			derr = errSyntax("The query parameter '%s' is not supported.", name)
		}
		if derr != nil {
			return nil, derr
		}
	}
	if q.apply != nil {
		if q.selects != nil || q.filter != nil || q.expands != nil || q.top > 0 || q.count {
			return nil, errSyntax("$apply takes no $select, $filter, $expand, $top or $count: filter inside it with filter(…).")
		}
		if hasOrder {
			aliases := map[string]bool{}
			for _, c := range q.apply.cols {
				aliases[c.key] = true
			}
			for _, item := range strings.Split(orderRaw, ",") {
				f := strings.Fields(item)
				if len(f) == 0 || len(f) > 2 || len(f) == 2 && f[1] != "asc" && f[1] != "desc" || !aliases[f[0]] {
					return nil, errSyntax("$orderby with $apply names an alias or a groupby column with asc or desc, got '%s'.", strings.TrimSpace(item))
				}
				q.apply.orders = append(q.apply.orders, fetchSort{key: f[0], desc: len(f) == 2 && f[1] == "desc"})
			}
		}
		return q, nil
	}
	if hasOrder {
		var derr *dvError
		if q.orderby, derr = parseOrderBy(ent, orderRaw); derr != nil {
			return nil, derr
		}
	}
	return q, nil
}

// bindAliases writes the value of each parameter alias ("@p1") that
// expr names, outside string literals, in its place: a column name
// ("$orderby=@p1&@p1=revenue"), a literal ("revenue gt @p2&@p2=5000") or a
// function's parameter ("In(PropertyName=@p1,PropertyValues=@p2)"). An
// alias the query does not define is null, as OData defines it.
func bindAliases(expr string, aliases map[string]string) string {
	if strings.IndexByte(expr, '@') < 0 {
		return expr
	}
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\'':
			inQuote = !inQuote // '' inside a literal toggles twice
		case c == '@' && !inQuote:
			j := i + 1
			for j < len(expr) && (expr[j] == '_' || 'a' <= expr[j] && expr[j] <= 'z' || 'A' <= expr[j] && expr[j] <= 'Z' || '0' <= expr[j] && expr[j] <= '9') {
				j++
			}
			if j > i+1 {
				v, ok := aliases[expr[i:j]]
				if !ok {
					v = "null"
				}
				b.WriteString(v)
				i = j - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// refuseParameter refuses the non-$ parameters that change a query's
// meaning and that the emulator does not implement.
func refuseParameter(name string) *dvError {
	switch {
	case strings.EqualFold(name, "fetchXml"):
		return errNotImplemented("FetchXML queries (?fetchXml=): use $select, $filter, $orderby and $top")
	case strings.EqualFold(name, "savedQuery"), strings.EqualFold(name, "userQuery"):
		return errNotImplemented("saved and user queries (?%s=)", name)
	}
	return nil
}

// unescape decodes %XX escapes of a query-string name or value. A '+'
// stays a '+' here: the Web API face turns the URL's unencoded '+' into a
// space first (webQuery), as Dataverse reads a URL, while a CIF query string
// keeps it, as the dataverse backend sends it on (%2B).
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// webQuery is a Web API request's raw query as parseQuery reads it: an
// unencoded '+' is a space, as Dataverse reads it (a phone number's '+'
// must be sent as %2B).
func webQuery(raw string) string {
	if strings.IndexByte(raw, '+') < 0 {
		return raw
	}
	return strings.ReplaceAll(raw, "+", "%20")
}

// splitTop splits s on sep outside quotes and parentheses
// (protocol.SplitTop).
func splitTop(s string, sep byte) []string { return protocol.SplitTop(s, sep) }

func parseSelect(ent *entity, value string) ([]string, *dvError) {
	cols := []string{}
	for _, c := range strings.Split(value, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, errSyntax("$select has an empty column name in '%s'.", value)
		}
		if !ent.columns[c] {
			return nil, errUnknownProperty(c, ent.LogicalName)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func parseExpand(cat *catalog, ent *entity, value string) ([]expandOpt, *dvError) {
	return parseExpandDepth(cat, ent, value, 0)
}

func parseExpandDepth(cat *catalog, ent *entity, value string, depth int) ([]expandOpt, *dvError) {
	if depth > maxExpandDepth {
		return nil, errSyntax("$expand is nested more than %d levels deep.", maxExpandDepth)
	}
	var out []expandOpt
	for _, item := range splitTop(value, ',') {
		item = strings.TrimSpace(item)
		nav, opts, hasOpts := strings.Cut(item, "(")
		nav = strings.TrimSpace(nav)
		if nav == "" {
			return nil, errSyntax("$expand has an empty navigation property in '%s'.", value)
		}
		lookup, target, ok := ent.resolveLookup(nav)
		if !ok {
			inner := ""
			if hasOpts {
				var closed bool
				if inner, closed = strings.CutSuffix(strings.TrimSpace(opts), ")"); !closed {
					return nil, errSyntax("$expand item '%s' is missing its closing ')'.", item)
				}
			}
			c, isMany, derr := parseCollectionExpand(cat, ent, nav, inner)
			if derr != nil {
				return nil, derr
			}
			if !isMany {
				return nil, errUnknownProperty(nav, ent.LogicalName)
			}
			out = append(out, expandOpt{nav: nav, many: c})
			continue
		}
		x := expandOpt{nav: nav, lookup: lookup, target: target}
		if hasOpts {
			inner, ok := strings.CutSuffix(strings.TrimSpace(opts), ")")
			if !ok {
				return nil, errSyntax("$expand item '%s' is missing its closing ')'.", item)
			}
			for _, opt := range splitTop(inner, ';') {
				opt = strings.TrimSpace(opt)
				if opt == "" {
					continue
				}
				name, v, _ := strings.Cut(opt, "=")
				switch strings.TrimSpace(name) {
				case "$select":
					sel, derr := parseExpandSelect(cat, ent, x, v)
					if derr != nil {
						return nil, derr
					}
					x.selects = sel
				case "$expand":
					target := x.target // a polymorphic lookup is named with its target (navProperty)
					if target == "" {
						target = ent.Lookups[x.lookup][0] // named by itself: its one target
					}
					nested, derr := parseExpandDepth(cat, cat.byLogical[target], v, depth+1)
					if derr != nil {
						return nil, derr
					}
					x.expands = nested
				default:
					return nil, errSyntax("The emulator supports only $select and $expand inside the $expand of a lookup (Dataverse takes $filter, $orderby and $top only on collection-valued ones), got '%s'.", opt)
				}
			}
		}
		out = append(out, x)
	}
	return out, nil
}

// parseExpandSelect checks columns against the lookup's targets: a column
// is valid when at least one possible target has it.
func parseExpandSelect(cat *catalog, ent *entity, x expandOpt, value string) ([]string, *dvError) {
	targets := ent.Lookups[x.lookup]
	if x.target != "" {
		targets = []string{x.target}
	}
	cols := []string{}
	for _, c := range strings.Split(value, ",") {
		c = strings.TrimSpace(c)
		found := false
		for _, t := range targets {
			if cat.byLogical[t].columns[c] {
				found = true
				break
			}
		}
		if !found {
			return nil, errUnknownProperty(c, targets[0])
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func parseOrderBy(ent *entity, value string) ([]orderKey, *dvError) {
	var keys []orderKey
	for _, item := range strings.Split(value, ",") {
		f := strings.Fields(item)
		if len(f) == 0 || len(f) > 2 {
			return nil, errSyntax("$orderby item '%s' must be '<column> [asc|desc]'.", strings.TrimSpace(item))
		}
		if !ent.columns[f[0]] {
			return nil, errUnknownProperty(f[0], ent.LogicalName)
		}
		k := orderKey{col: f[0]}
		if len(f) == 2 {
			switch f[1] {
			case "asc":
			case "desc":
				k.desc = true
			default:
				return nil, errSyntax("$orderby direction must be 'asc' or 'desc', got '%s'.", f[1])
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}
