package emulator

import (
	"strconv"
	"strings"
	"time"
)

// Dataverse query functions in $filter, Microsoft.Dynamics.CRM.<Name>(…):
//
//	In, NotIn                 (PropertyName='col',PropertyValues=['a','b'])
//	Between, NotBetween       (PropertyName='col',PropertyValues=['1','10'])
//	EqualUserId, NotEqualUserId (PropertyName='ownerid')  — the emulator's user
//	Today, Yesterday, Tomorrow, ThisMonth, LastMonth, NextMonth, ThisYear, LastYear, NextYear
//	                          (PropertyName='createdon')
//	LastXHours, NextXHours, LastXDays, NextXDays, LastXMonths, NextXMonths, OlderThanXDays
//	                          (PropertyName='createdon',PropertyValue=7)
//	On, NotOn, OnOrAfter, OnOrBefore (PropertyName='createdon',PropertyValue='2026-01-31')
//
// Days, months and years are UTC calendar periods (the emulator has no user
// time zone); "last X days" runs from the start of the day X days ago to
// now. Hierarchy functions (Above, Under, …) are refused: the emulator
// models no hierarchy. Every other function is refused by name.

// crmFunctionPrefix starts a query function in $filter.
const crmFunctionPrefix = "Microsoft.Dynamics.CRM."

// filterContext is what a filter needs besides the entity: the clock for
// the date functions and the user for EqualUserId.
type filterContext struct {
	now    func() time.Time
	userID string
	cat    *catalog
	// get reads a related record for lookup paths; called with the
	// emulator's mu held (filters run inside search). nil: paths refused.
	get func(logical, id string) *record
	// scan visits a table's records until fn returns false (lambdas);
	// called with mu held. nil: lambdas refused.
	scan func(logical string, fn func(*record) bool)
}

// pathNode compares a column of the record a lookup points to:
// primarycontactid/fullname eq 'Ada', parentcustomerid_account/name ne null.
type pathNode struct {
	src    string
	lookup string
	target string // fixed by a polymorphic name (parentcustomerid_account), else ""
	cmp    cmpNode
	get    func(logical, id string) *record
}

func (n *pathNode) String() string { return n.src }
func (n *pathNode) match(r *record) bool {
	id := r.fields.str(lookupValueCol(n.lookup))
	t := r.targets.str(n.lookup)
	var rel *record
	if id != "" && t != "" && (n.target == "" || n.target == t) {
		rel = n.get(t, id)
	}
	if rel == nil { // no related record: every column of it is null
		return (&cmpNode{col: n.cmp.col, op: n.cmp.op, lit: n.cmp.lit}).match(&record{})
	}
	return n.cmp.match(rel)
}

// setNode matches a column against a list of values (In, NotIn).
type setNode struct {
	src  string
	col  string
	vals []literal
	not  bool
}

func (n *setNode) String() string { return n.src }
func (n *setNode) match(r *record) bool {
	if n.not && isNullCol(r, n.col) { // SQL's NOT IN: a null is in no list and out of none
		return false
	}
	for _, v := range n.vals {
		if (&cmpNode{col: n.col, op: "eq", lit: v}).match(r) {
			return !n.not
		}
	}
	return n.not
}

// rangeNode matches a column between two values, inclusive (Between).
type rangeNode struct {
	src    string
	col    string
	lo, hi literal
	not    bool
}

func (n *rangeNode) String() string { return n.src }
func (n *rangeNode) match(r *record) bool {
	if n.not && isNullCol(r, n.col) {
		return false
	}
	in := (&cmpNode{col: n.col, op: "ge", lit: n.lo}).match(r) && (&cmpNode{col: n.col, op: "le", lit: n.hi}).match(r)
	return in != n.not
}

// timeNode matches a date-time column in [from, to) (a zero bound is open).
type timeNode struct {
	src      string
	col      string
	from, to time.Time
	not      bool
}

func (n *timeNode) String() string { return n.src }
func (n *timeNode) match(r *record) bool {
	kind, text, _ := n.colValue(r)
	if kind != kindString {
		return false
	}
	t, ok := parseTime(string(text))
	if !ok {
		return false
	}
	in := (n.from.IsZero() || !t.Before(n.from)) && (n.to.IsZero() || t.Before(n.to))
	return in != n.not
}

func isNullCol(r *record, col string) bool {
	kind, _, _ := r.fields.find(col)
	return kind == 0 || kind == kindNull
}

func (n *timeNode) colValue(r *record) (byte, []byte, bool) { return r.fields.find(n.col) }

// parseTime reads a stored or literal date-time: RFC 3339 or a date.
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// crmArgs are a function's arguments.
type crmArgs struct {
	name   string    // PropertyName
	value  *literal  // PropertyValue
	values []literal // PropertyValues
}

// parseCRMFunction parses Microsoft.Dynamics.CRM.<Name>(…) at p.pos.
func (p *filterParser) parseCRMFunction() (filterNode, *dvError) {
	start := p.pos
	p.pos += len(crmFunctionPrefix)
	nameStart := p.pos
	for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) && p.src[p.pos] != '/' {
		p.pos++
	}
	fn := p.src[nameStart:p.pos]
	switch fn {
	case "Above", "AboveOrEqual", "Under", "UnderOrEqual", "NotUnder", "EqOrAbove", "EqOrUnder":
		return nil, errNotImplemented("the hierarchy query function 'Microsoft.Dynamics.CRM.%s': the emulator models no hierarchy", fn)
	}
	if !crmFunctions[fn] {
		return nil, errNotImplemented("the query function 'Microsoft.Dynamics.CRM.%s' (it implements %s)", fn, crmFunctionList)
	}
	if derr := p.expect('('); derr != nil {
		return nil, derr
	}
	var a crmArgs
	for first := true; ; first = false {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
			break
		}
		if !first {
			if derr := p.expect(','); derr != nil {
				return nil, derr
			}
			p.skipSpace()
		}
		arg := p.peekWord()
		p.pos += len(arg)
		if derr := p.expect('='); derr != nil {
			return nil, derr
		}
		switch arg {
		case "PropertyName":
			lit, derr := p.parseLiteral()
			if derr != nil {
				return nil, derr
			}
			if lit.kind != litString {
				return nil, p.errorf("PropertyName must be a column name in quotes like 'createdon'")
			}
			a.name = lit.text
		case "PropertyValue":
			lit, derr := p.parseLiteral()
			if derr != nil {
				return nil, derr
			}
			a.value = &lit
		case "PropertyValues":
			vals, derr := p.parseArray()
			if derr != nil {
				return nil, derr
			}
			a.values = vals
		default:
			return nil, p.errorf("unknown parameter '%s' of Microsoft.Dynamics.CRM.%s (PropertyName, PropertyValue or PropertyValues)", arg, fn)
		}
	}
	src := p.src[start:p.pos]
	return p.crmNode(fn, src, a)
}

// parseArray reads [v, v, …]; strings may use single or double quotes, as
// the Dataverse documentation writes them.
func (p *filterParser) parseArray() ([]literal, *dvError) {
	if derr := p.expect('['); derr != nil {
		return nil, derr
	}
	var out []literal
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			p.pos++
			return out, nil
		}
		if len(out) > 0 {
			if derr := p.expect(','); derr != nil {
				return nil, derr
			}
			p.skipSpace()
		}
		if p.pos < len(p.src) && p.src[p.pos] == '"' {
			end := strings.IndexByte(p.src[p.pos+1:], '"')
			if end < 0 {
				return nil, p.errorf("unterminated string in the array")
			}
			out = append(out, literal{kind: litString, text: p.src[p.pos+1 : p.pos+1+end]})
			p.pos += end + 2
			continue
		}
		lit, derr := p.parseLiteral()
		if derr != nil {
			return nil, derr
		}
		out = append(out, lit)
		if len(out) > 1000 {
			return nil, p.errorf("more than 1000 values in the array")
		}
	}
}

var crmFunctions = map[string]bool{}

const crmFunctionList = "In, NotIn, Between, NotBetween, EqualUserId, NotEqualUserId, Today, Yesterday, Tomorrow, " +
	"ThisMonth, LastMonth, NextMonth, ThisYear, LastYear, NextYear, LastXHours, NextXHours, LastXDays, NextXDays, " +
	"LastXMonths, NextXMonths, OlderThanXDays, On, NotOn, OnOrAfter, OnOrBefore"

func init() {
	for _, f := range strings.Split(crmFunctionList, ", ") {
		crmFunctions[f] = true
	}
}

// crmNode builds the node of a parsed function call.
func (p *filterParser) crmNode(fn, src string, a crmArgs) (filterNode, *dvError) {
	col, derr := p.functionColumn(fn, a.name)
	if derr != nil {
		return nil, derr
	}
	needValue := func() (literal, *dvError) {
		if a.value == nil {
			return literal{}, errSyntax("Microsoft.Dynamics.CRM.%s needs PropertyValue.", fn)
		}
		return *a.value, nil
	}
	count := func() (int, *dvError) {
		v, derr := needValue()
		if derr != nil {
			return 0, derr
		}
		n, err := strconv.Atoi(v.text)
		if v.kind == litString || v.kind == litNumber {
			if err == nil && n >= 0 && n <= 100000 {
				return n, nil
			}
		}
		return 0, errSyntax("Microsoft.Dynamics.CRM.%s needs PropertyValue to be a whole number of periods (0..100000), got %s.", fn, v)
	}
	now := p.ctx.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	year := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	span := func(from, to time.Time) (filterNode, *dvError) {
		return &timeNode{src: src, col: col, from: from, to: to}, nil
	}
	switch fn {
	case "In", "NotIn":
		if len(a.values) == 0 {
			return nil, errSyntax("Microsoft.Dynamics.CRM.%s needs PropertyValues with at least one value.", fn)
		}
		return &setNode{src: src, col: col, vals: a.values, not: fn == "NotIn"}, nil
	case "Between", "NotBetween":
		if len(a.values) != 2 {
			return nil, errSyntax("Microsoft.Dynamics.CRM.%s needs PropertyValues with exactly two values.", fn)
		}
		lo, hi := numberOrText(a.values[0]), numberOrText(a.values[1])
		return &rangeNode{src: src, col: col, lo: lo, hi: hi, not: fn == "NotBetween"}, nil
	case "EqualUserId", "NotEqualUserId":
		op := "eq"
		if fn == "NotEqualUserId" {
			op = "ne"
		}
		return &userNode{src: src, cmp: cmpNode{col: col, op: op, lit: literal{kind: litGUID, text: p.ctx.userID}}}, nil
	case "Today":
		return span(day, day.AddDate(0, 0, 1))
	case "Yesterday":
		return span(day.AddDate(0, 0, -1), day)
	case "Tomorrow":
		return span(day.AddDate(0, 0, 1), day.AddDate(0, 0, 2))
	case "ThisMonth":
		return span(month, month.AddDate(0, 1, 0))
	case "LastMonth":
		return span(month.AddDate(0, -1, 0), month)
	case "NextMonth":
		return span(month.AddDate(0, 1, 0), month.AddDate(0, 2, 0))
	case "ThisYear":
		return span(year, year.AddDate(1, 0, 0))
	case "LastYear":
		return span(year.AddDate(-1, 0, 0), year)
	case "NextYear":
		return span(year.AddDate(1, 0, 0), year.AddDate(2, 0, 0))
	case "LastXHours", "NextXHours", "LastXDays", "NextXDays", "LastXMonths", "NextXMonths", "OlderThanXDays":
		n, derr := count()
		if derr != nil {
			return nil, derr
		}
		switch fn {
		case "LastXHours":
			return span(now.Add(-time.Duration(n)*time.Hour), now.Add(time.Nanosecond))
		case "NextXHours":
			return span(now, now.Add(time.Duration(n)*time.Hour+time.Nanosecond))
		case "LastXDays":
			return span(day.AddDate(0, 0, -n), now.Add(time.Nanosecond))
		case "NextXDays":
			return span(now, day.AddDate(0, 0, n+1))
		case "LastXMonths":
			return span(day.AddDate(0, -n, 0), now.Add(time.Nanosecond))
		case "NextXMonths":
			return span(now, day.AddDate(0, n, 1))
		default: // OlderThanXDays
			return span(time.Time{}, now.AddDate(0, 0, -n))
		}
	case "On", "NotOn", "OnOrAfter", "OnOrBefore":
		v, derr := needValue()
		if derr != nil {
			return nil, derr
		}
		t, ok := parseTime(v.text)
		if !ok || v.kind != litString && v.kind != litDateTime {
			return nil, errSyntax("Microsoft.Dynamics.CRM.%s needs PropertyValue to be a date like '2026-01-31', got %s.", fn, v)
		}
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		switch fn {
		case "On":
			return span(d, d.AddDate(0, 0, 1))
		case "NotOn":
			return &timeNode{src: src, col: col, from: d, to: d.AddDate(0, 0, 1), not: true}, nil
		case "OnOrAfter":
			return span(d, time.Time{})
		default:
			return span(time.Time{}, d.AddDate(0, 0, 1))
		}
	}
	return nil, errNotImplemented("the query function 'Microsoft.Dynamics.CRM.%s'", fn)
}

// userNode is EqualUserId: a comparison with the emulator's user.
type userNode struct {
	src string
	cmp cmpNode
}

func (n *userNode) String() string       { return n.src }
func (n *userNode) match(r *record) bool { return n.cmp.match(r) }

// numberOrText reads an array value written as text ("10") as the number
// it spells, so Between compares numbers numerically.
func numberOrText(l literal) literal {
	if l.kind == litString {
		if f, err := strconv.ParseFloat(l.text, 64); err == nil {
			return literal{kind: litNumber, text: l.text, num: f}
		}
	}
	return l
}

// functionColumn resolves a function's PropertyName: a column, or a lookup
// (ownerid, parentcustomerid) meaning its _x_value column.
func (p *filterParser) functionColumn(fn, name string) (string, *dvError) {
	if name == "" {
		return "", errSyntax("Microsoft.Dynamics.CRM.%s needs PropertyName, e.g. PropertyName='createdon'.", fn)
	}
	if p.ent.columns[name] {
		return name, nil
	}
	if c := lookupValueCol(name); p.ent.columns[c] {
		return c, nil
	}
	return "", errUnknownProperty(name, p.ent.LogicalName)
}
