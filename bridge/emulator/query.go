package emulator

import (
	"net/url"
	"strconv"
	"strings"
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
}

type expandOpt struct {
	nav     string // as written
	lookup  string
	target  string   // set by polymorphic names like regardingobjectid_contact
	selects []string // nil: every column
}

type orderKey struct {
	col  string
	desc bool
}

// parseQuery parses "?$select=a,b&$filter=…&$top=5&$expand=nav($select=x)&$orderby=a desc"
// (the leading "?" is optional). Values may be percent-encoded; '+' is kept
// as is (a phone number is not a space). Unknown system options are 400s;
// other parameters (parameter aliases) are ignored.
func parseQuery(cat *catalog, ent *entity, qs string) (*query, *dvError) {
	qs = strings.TrimPrefix(strings.TrimSpace(qs), "?")
	q := &query{}
	seen := map[string]bool{}
	for _, part := range splitTop(qs, '&') {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		name, value = unescape(name), unescape(value)
		if !strings.HasPrefix(name, "$") {
			continue
		}
		if seen[name] {
			return nil, errSyntax("Query option '%s' was specified more than once, but it must be specified at most once.", name)
		}
		seen[name] = true
		var derr *dvError
		switch name {
		case "$select":
			q.selects, derr = parseSelect(ent, value)
		case "$filter":
			q.filter, derr = parseFilter(ent, value)
		case "$top":
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				return nil, errSyntax("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", value)
			}
			q.top = min(n, maxTop)
		case "$expand":
			q.expands, derr = parseExpand(cat, ent, value)
		case "$orderby":
			q.orderby, derr = parseOrderBy(ent, value)
		case "$count":
		default:
			derr = errSyntax("The query parameter '%s' is not supported.", name)
		}
		if derr != nil {
			return nil, derr
		}
	}
	return q, nil
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// splitTop splits s on sep outside quotes and parentheses.
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, inQuote, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

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
			return nil, errUnknownProperty(nav, ent.LogicalName)
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
				if strings.TrimSpace(name) != "$select" {
					return nil, errSyntax("The emulator supports only $select inside $expand, got '%s'.", opt)
				}
				sel, derr := parseExpandSelect(cat, ent, x, v)
				if derr != nil {
					return nil, derr
				}
				x.selects = sel
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
