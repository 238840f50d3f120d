package emulator

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The $filter language the emulator understands (what CIF widgets send):
//
//	expr    = or
//	or      = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")"
//	        | ("contains" | "startswith" | "endswith") "(" column "," literal ")"
//	        | column ("eq"|"ne"|"gt"|"ge"|"lt"|"le") literal
//	        | "Microsoft.Dynamics.CRM." function "(" args ")"   (filter_functions.go)
//	literal = 'string' ('' escapes a quote) | number | true | false | null | GUID
//	        | date (2026-01-31) | date-time (2026-01-31T08:00:00Z)
//
// Columns are checked against the entity's metadata. String comparisons are
// case-insensitive, as Dataverse's collation is.

// maxFilterDepth bounds nesting so hostile input cannot exhaust the stack.
const maxFilterDepth = 64

type filterNode interface {
	match(r *record) bool
	String() string
}

type logicNode struct {
	op   string // "and" | "or"
	l, r filterNode
}

func (n *logicNode) match(r *record) bool {
	if n.op == "and" {
		return n.l.match(r) && n.r.match(r)
	}
	return n.l.match(r) || n.r.match(r)
}
func (n *logicNode) String() string {
	return "(" + n.l.String() + " " + n.op + " " + n.r.String() + ")"
}

type notNode struct{ x filterNode }

func (n *notNode) match(r *record) bool { return !n.x.match(r) }
func (n *notNode) String() string       { return "not " + n.x.String() }

type litKind int

const (
	litString litKind = iota
	litNumber
	litBool
	litNull
	litGUID
	litDateTime // 2026-01-31 or 2026-01-31T08:00:00Z
)

type literal struct {
	kind litKind
	text string // string/GUID value, or the number's or date-time's text
	num  float64
	b    bool
	t    time.Time // litDateTime
}

func (l literal) String() string {
	switch l.kind {
	case litString:
		return "'" + strings.ReplaceAll(l.text, "'", "''") + "'"
	case litBool:
		return strconv.FormatBool(l.b)
	case litNull:
		return "null"
	}
	return l.text // number, GUID, date-time
}

type cmpNode struct {
	col string
	op  string // eq ne gt ge lt le
	lit literal
}

func (n *cmpNode) String() string { return n.col + " " + n.op + " " + n.lit.String() }

func (n *cmpNode) match(r *record) bool {
	kind, text, _ := r.fields.find(n.col)
	if isNull := kind == 0 || kind == kindNull; n.lit.kind == litNull || isNull {
		switch n.op {
		case "eq":
			return isNull && n.lit.kind == litNull
		case "ne":
			return isNull != (n.lit.kind == litNull)
		}
		return false
	}
	c, ok := compare(kind, text, n.lit)
	if !ok {
		return n.op == "ne"
	}
	switch n.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// compare orders a stored value (a row's kind and text) against a literal;
// ok is false when the types cannot be compared.
func compare(kind byte, text []byte, l literal) (int, bool) {
	switch l.kind {
	case litNumber:
		if kind != kindNumber && kind != kindString {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return 0, false
		}
		switch {
		case f < l.num:
			return -1, true
		case f > l.num:
			return 1, true
		}
		return 0, true
	case litBool:
		if kind != kindTrue && kind != kindFalse {
			return 0, false
		}
		if b := kind == kindTrue; b == l.b {
			return 0, true
		} else if !b {
			return -1, true
		}
		return 1, true
	case litDateTime:
		if kind != kindString {
			return 0, false
		}
		t, ok := parseTime(string(text))
		if !ok {
			return 0, false
		}
		return t.Compare(l.t), true
	}
	// string and GUID literals compare as case-insensitive strings
	return compareFold(text, l.text), true
}

// compareFold compares a and b as strings.ToLower(a) against
// strings.ToLower(b) would, without building either.
func compareFold(a []byte, b string) int {
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if la, lb := unicode.ToLower(ra), unicode.ToLower(rb); la != lb {
			// strings.Compare orders by the UTF-8 bytes, which for valid
			// runes is the order of the code points.
			if la < lb {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case len(a) > 0:
		return 1
	case len(b) > 0:
		return -1
	}
	return 0
}

type funcNode struct {
	fn    string // contains | startswith | endswith
	col   string
	lit   literal
	lower string // lit.text lower-cased
	// like is the LIKE pattern of a literal with wildcards (% _ [ ]),
	// which Dataverse honours in these functions; "" when it has none and
	// the text is matched as it is.
	like string
}

// newFuncNode builds fn(col, lit), with its LIKE pattern when lit holds a
// wildcard.
func newFuncNode(fn, col string, lit literal) *funcNode {
	n := &funcNode{fn: fn, col: col, lit: lit, lower: strings.ToLower(lit.text)}
	if strings.ContainsAny(n.lower, "%_[") {
		switch fn {
		case "contains":
			n.like = "%" + n.lower + "%"
		case "startswith":
			n.like = n.lower + "%"
		default:
			n.like = "%" + n.lower
		}
	}
	return n
}

func (n *funcNode) String() string { return n.fn + "(" + n.col + "," + n.lit.String() + ")" }

func (n *funcNode) match(r *record) bool {
	kind, text, _ := r.fields.find(n.col)
	if kind != kindString {
		return false
	}
	var buf [128]byte // most columns lower-case without a heap allocation
	s := appendLower(buf[:0], text)
	if n.like != "" {
		return likeMatch(string(s), n.like)
	}
	switch n.fn {
	case "contains":
		return bytes.Contains(s, []byte(n.lower))
	case "startswith":
		return bytes.HasPrefix(s, []byte(n.lower))
	}
	return bytes.HasSuffix(s, []byte(n.lower))
}

// appendLower appends text lower-cased as strings.ToLower does it.
func appendLower(dst, text []byte) []byte {
	for len(text) > 0 {
		if c := text[0]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			text = text[1:]
			continue
		}
		r, n := utf8.DecodeRune(text)
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		text = text[n:]
	}
	return dst
}

// filterParser is a recursive-descent parser over the raw $filter text.
type filterParser struct {
	src       string
	pos       int
	depth     int
	ent       *entity
	ctx       filterContext
	lambdaVar string // inside any/all: the range variable ("c" in c/firstname)
}

// parseFilter parses a $filter expression for ent. Errors are 400s: syntax
// errors carry 0x80060888 and the position, unknown columns 0x0.
func parseFilter(ent *entity, src string) (filterNode, *dvError) {
	return parseFilterCtx(ent, src, filterContext{now: time.Now})
}

// parseFilterCtx is parseFilter with the clock and user the query
// functions read.
func parseFilterCtx(ent *entity, src string, ctx filterContext) (filterNode, *dvError) {
	if ctx.now == nil {
		ctx.now = time.Now
	}
	p := &filterParser{src: src, ent: ent, ctx: ctx}
	n, derr := p.parseOr()
	if derr != nil {
		return nil, derr
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errorf("unexpected '%s'", p.peekWord())
	}
	return n, nil
}

func (p *filterParser) errorf(format string, args ...any) *dvError {
	return errSyntax("Syntax error at position %d in '%s': %s.", p.pos, p.src, fmt.Sprintf(format, args...))
}

func (p *filterParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

// peekWord returns the identifier-like word at pos (without consuming it),
// or the next character.
func (p *filterParser) peekWord() string {
	p.skipSpace()
	end := p.pos
	for end < len(p.src) && isIdentByte(p.src[end]) {
		end++
	}
	if end == p.pos && end < len(p.src) {
		end++
	}
	return p.src[p.pos:end]
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// keyword consumes w when it is the next whole word.
func (p *filterParser) keyword(w string) bool {
	if p.peekWord() == w {
		p.pos += len(w)
		return true
	}
	return false
}

func (p *filterParser) enter() *dvError {
	p.depth++
	if p.depth > maxFilterDepth {
		return p.errorf("the expression is nested too deeply")
	}
	return nil
}

func (p *filterParser) parseOr() (filterNode, *dvError) {
	if derr := p.enter(); derr != nil {
		return nil, derr
	}
	defer func() { p.depth-- }()
	return p.parseChain("or", p.parseAnd)
}

func (p *filterParser) parseAnd() (filterNode, *dvError) {
	return p.parseChain("and", p.parseUnary)
}

// parseChain parses operands joined by the keyword op, left to right.
func (p *filterParser) parseChain(op string, operand func() (filterNode, *dvError)) (filterNode, *dvError) {
	l, derr := operand()
	if derr != nil {
		return nil, derr
	}
	for p.keyword(op) {
		r, derr := operand()
		if derr != nil {
			return nil, derr
		}
		l = &logicNode{op, l, r}
	}
	return l, nil
}

func (p *filterParser) parseUnary() (filterNode, *dvError) {
	if p.keyword("not") {
		if derr := p.enter(); derr != nil {
			return nil, derr
		}
		defer func() { p.depth-- }()
		x, derr := p.parseUnary()
		if derr != nil {
			return nil, derr
		}
		return &notNode{x}, nil
	}
	return p.parsePrimary()
}

func (p *filterParser) expect(c byte) *dvError {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return p.errorf("expected '%c' but the expression ended", c)
	}
	if p.src[p.pos] != c {
		return p.errorf("expected '%c' but found '%s'", c, p.peekWord())
	}
	p.pos++
	return nil
}

func (p *filterParser) parsePrimary() (filterNode, *dvError) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.errorf("expected an expression but the expression ended")
	}
	if p.src[p.pos] == '(' {
		p.pos++
		n, derr := p.parseOr()
		if derr != nil {
			return nil, derr
		}
		if derr := p.expect(')'); derr != nil {
			return nil, derr
		}
		return n, nil
	}
	if strings.HasPrefix(p.src[p.pos:], crmFunctionPrefix) {
		return p.parseCRMFunction()
	}
	start := p.pos
	word := p.peekWord()
	if word == "" || !isIdentByte(word[0]) || word[0] >= '0' && word[0] <= '9' {
		return nil, p.errorf("expected a column name or a function but found '%s'", word)
	}
	adv := len(word)
	if nav, rest, ok := strings.Cut(word, "/"); ok && !p.ent.columns[word] {
		switch {
		case p.lambdaVar != "" && nav == p.lambdaVar && !strings.Contains(rest, "/"):
			word = rest // the range variable's column
		case rest == "any" || rest == "all":
			return p.parseLambda(start, word, nav, rest == "all")
		default:
			return p.parsePath(start, word, nav, rest)
		}
	}
	p.pos += adv
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		switch word {
		case "contains", "startswith", "endswith":
		default:
			p.pos = start
			return nil, p.errorf("unknown function '%s' (supported: contains, startswith, endswith)", word)
		}
		p.pos++
		p.skipSpace()
		colStart := p.pos
		col := p.peekWord()
		p.pos += len(col)
		if v, c, ok := strings.Cut(col, "/"); ok && p.lambdaVar != "" && v == p.lambdaVar {
			col = c
		}
		if derr := p.checkColumn(col, colStart); derr != nil {
			return nil, derr
		}
		if derr := p.expect(','); derr != nil {
			return nil, derr
		}
		lit, derr := p.parseLiteral()
		if derr != nil {
			return nil, derr
		}
		if lit.kind != litString {
			return nil, p.errorf("%s needs a string literal like 'text'", word)
		}
		if derr := p.expect(')'); derr != nil {
			return nil, derr
		}
		return newFuncNode(word, col, lit), nil
	}
	if derr := p.checkColumn(word, start); derr != nil {
		return nil, derr
	}
	op := p.peekWord()
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
		p.pos += len(op)
	case "":
		return nil, p.errorf("expected an operator (eq, ne, gt, ge, lt, le) after '%s' but the expression ended", word)
	default:
		return nil, p.errorf("expected an operator (eq, ne, gt, ge, lt, le) after '%s' but found '%s'", word, op)
	}
	lit, derr := p.parseLiteral()
	if derr != nil {
		return nil, derr
	}
	if derr := checkOperandTypes(p.ent, word, op, lit); derr != nil {
		return nil, derr
	}
	return &cmpNode{col: word, op: op, lit: lit}, nil
}

// operatorKinds are OData's names of the comparison operators, as
// Dataverse's messages write them.
var operatorKinds = map[string]string{"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual"}

// checkOperandTypes refuses a comparison of a column with a literal of
// another type, as Dataverse does ("fullname eq 1", "contactid eq
// '<guid>'": 400 "A binary operator with incompatible types was detected.
// …"), where the emulator knows the column's type: the primary key and
// lookup values (Edm.Guid), the built-in typed and text columns and the
// schema's declared ones. A column of unknown type, and null, compare with
// anything.
func checkOperandTypes(ent *entity, col, op string, lit literal) *dvError {
	if lit.kind == litNull {
		return nil
	}
	var colType string
	switch {
	case col == ent.PrimaryIDAttribute, strings.HasPrefix(col, "_") && strings.HasSuffix(col, "_value"):
		colType = "Edm.Guid"
	case typeOf(ent, col).typ != "":
		colType = edmTypeOf(ent, col)
	default:
		return nil
	}
	litType := ""
	switch lit.kind {
	case litString:
		litType = "Edm.String"
	case litGUID:
		litType = "Edm.Guid"
	case litBool:
		litType = "Edm.Boolean"
	case litDateTime:
		litType = "Edm.DateTimeOffset"
	case litNumber:
		litType = "Edm.Decimal"
		if _, err := strconv.ParseInt(lit.text, 10, 32); err == nil {
			litType = "Edm.Int32"
		} else if _, err := strconv.ParseInt(lit.text, 10, 64); err == nil {
			litType = "Edm.Int64"
		}
	}
	ok := litType == colType
	switch colType {
	case "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double":
		ok = lit.kind == litNumber // OData promotes between the numeric types
	}
	if ok {
		return nil
	}
	return errSyntax("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", colType, litType, operatorKinds[op])
}

func (p *filterParser) checkColumn(col string, at int) *dvError {
	if col == "" || !isIdentByte(col[0]) {
		p.pos = at
		return p.errorf("expected a column name")
	}
	if !p.ent.columns[col] {
		return errUnknownProperty(col, p.ent.LogicalName)
	}
	return nil
}

func (p *filterParser) parseLiteral() (literal, *dvError) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return literal{}, p.errorf("expected a value but the expression ended")
	}
	if p.src[p.pos] == '\'' {
		var b strings.Builder
		i := p.pos + 1
		for {
			if i >= len(p.src) {
				return literal{}, p.errorf("unterminated string literal")
			}
			c := p.src[i]
			if c == '\'' {
				if i+1 < len(p.src) && p.src[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			b.WriteByte(c)
			i++
		}
		p.pos = i + 1
		return literal{kind: litString, text: b.String()}, nil
	}
	if lit, ok := p.dateTimeLiteral(); ok {
		return lit, nil
	}
	if end := p.pos + 36; end <= len(p.src) {
		if id, ok := normalizeID(p.src[p.pos:end]); ok && (end == len(p.src) || !isIdentByte(p.src[end])) {
			p.pos = end
			return literal{kind: litGUID, text: id}, nil
		}
	}
	word := p.peekWord()
	switch word {
	case "true", "false":
		p.pos += len(word)
		return literal{kind: litBool, b: word == "true"}, nil
	case "null":
		p.pos += len(word)
		return literal{kind: litNull}, nil
	}
	end := p.pos
	if end < len(p.src) && (p.src[end] == '-' || p.src[end] == '+') {
		end++
	}
	for end < len(p.src) && (p.src[end] >= '0' && p.src[end] <= '9' || p.src[end] == '.' || p.src[end] == 'e' || p.src[end] == 'E') {
		end++
	}
	if end > p.pos {
		if f, err := strconv.ParseFloat(p.src[p.pos:end], 64); err == nil && (end == len(p.src) || !isIdentByte(p.src[end])) {
			text := p.src[p.pos:end]
			p.pos = end
			return literal{kind: litNumber, text: text, num: f}, nil
		}
	}
	return literal{}, p.errorf("expected a value ('text', a number, true, false, null or a GUID) but found '%s'", word)
}

// dateTimeLiteral reads a date (2026-01-31) or an ISO 8601 date-time with
// an offset (2026-01-31T08:00:00Z) at pos.
func (p *filterParser) dateTimeLiteral() (literal, bool) {
	rest := p.src[p.pos:]
	if len(rest) < 10 || rest[4] != '-' || rest[7] != '-' || !isDigits(rest[:4]) || !isDigits(rest[5:7]) || !isDigits(rest[8:10]) {
		return literal{}, false
	}
	end := 10
	for end < len(rest) && strings.IndexByte("0123456789:.TZ+-", rest[end]) >= 0 {
		end++
	}
	t, ok := parseTime(rest[:end])
	if !ok {
		return literal{}, false
	}
	p.pos += end
	return literal{kind: litDateTime, text: rest[:end], t: t}, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePath parses "<lookup>/<column> <op> <literal>" (a single-valued
// navigation path one level deep).
func (p *filterParser) parsePath(start int, word, nav, col string) (filterNode, *dvError) {
	lookup, target, ok := p.ent.resolveLookup(nav)
	switch {
	case !ok:
		return nil, errUnknownProperty(nav, p.ent.LogicalName)
	case strings.Contains(col, "/"):
		return nil, errNotImplemented("lookup paths deeper than one level ('%s')", word)
	case p.ctx.get == nil || p.ctx.cat == nil:
		return nil, errNotImplemented("lookup paths ('%s') here", word)
	}
	targets := p.ent.Lookups[lookup]
	if target != "" {
		targets = []string{target}
	}
	known := false
	for _, t := range targets {
		if te := p.ctx.cat.byLogical[t]; te != nil && te.columns[col] {
			known = true
		}
	}
	if !known {
		return nil, errUnknownProperty(col, targets[0])
	}
	p.pos += len(word)
	op := p.peekWord()
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
		p.pos += len(op)
	default:
		return nil, p.errorf("expected an operator (eq, ne, gt, ge, lt, le) after '%s' but found '%s'", word, op)
	}
	lit, derr := p.parseLiteral()
	if derr != nil {
		return nil, derr
	}
	return &pathNode{src: strings.TrimSpace(p.src[start:p.pos]), lookup: lookup, target: target,
		cmp: cmpNode{col: col, op: op, lit: lit}, get: p.ctx.get}, nil
}

// lambdaNode is nav/any(v:expr) or nav/all(v:expr) over a one-to-many
// relationship (expand_collection.go's table).
type lambdaNode struct {
	src   string
	one   *entity
	rel   manyRel
	inner filterNode // nil: any() without a condition
	all   bool
	scan  func(logical string, fn func(*record) bool)
}

func (n *lambdaNode) String() string { return n.src }
func (n *lambdaNode) match(r *record) bool {
	id := r.fields.str(n.one.PrimaryIDAttribute)
	col := lookupValueCol(n.rel.lookup)
	found, all := false, true
	n.scan(n.rel.entity, func(m *record) bool {
		if !strings.EqualFold(m.fields.str(col), id) || m.targets.str(n.rel.lookup) != n.one.LogicalName {
			return true
		}
		ok := n.inner == nil || n.inner.match(m)
		found = found || ok
		all = all && ok
		return n.all || !found // stop early once any() is settled
	})
	if n.all {
		return all
	}
	return found
}

// parseLambda parses nav/any(v:expr), nav/all(v:expr) and nav/any().
func (p *filterParser) parseLambda(start int, word, nav string, all bool) (filterNode, *dvError) {
	rel, ok := oneToMany[p.ent.LogicalName][nav]
	if !ok || p.ctx.scan == nil || p.ctx.cat == nil || p.ctx.cat.byLogical[rel.entity] == nil {
		if p.ctx.scan == nil {
			return nil, errNotImplemented("lambda operators ('%s') here", word)
		}
		return nil, errUnknownProperty(nav, p.ent.LogicalName)
	}
	many := p.ctx.cat.byLogical[rel.entity]
	p.pos += len(word)
	if derr := p.expect('('); derr != nil {
		return nil, derr
	}
	p.skipSpace()
	n := &lambdaNode{one: p.ent, rel: rel, all: all, scan: p.ctx.scan}
	if p.pos < len(p.src) && p.src[p.pos] == ')' && !all {
		p.pos++
		n.src = p.src[start:p.pos]
		return n, nil
	}
	v := p.peekWord()
	if v == "" || strings.Contains(v, "/") {
		return nil, p.errorf("expected a range variable like 'c:' after '%s('", word)
	}
	p.pos += len(v)
	if derr := p.expect(':'); derr != nil {
		return nil, derr
	}
	if derr := p.enter(); derr != nil {
		return nil, derr
	}
	defer func() { p.depth-- }()
	sub := &filterParser{src: p.src, pos: p.pos, depth: p.depth, ent: many, ctx: p.ctx, lambdaVar: v}
	inner, derr := sub.parseOr()
	if derr != nil {
		return nil, derr
	}
	p.pos = sub.pos
	if derr := p.expect(')'); derr != nil {
		return nil, derr
	}
	n.inner, n.src = inner, p.src[start:p.pos]
	return n, nil
}
