package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Rules say what may legitimately differ between a captured message and its
// replay. The zero value compares strictly except for the built-in rules:
//
//   - JSON-RPC "id"s are remapped (the replayer sends its own) and a
//     "requestId" (bridge.late) must name the remapped id;
//   - GUIDs and duplicate-ledger ids ("L…", in ledgerId, bridge.ledger's
//     entry.id and error texts) are tracked per session: the first time a
//     captured one meets a live one they are bound, and every later occurrence (answers, events,
//     notifications, and the requests the replayer sends) must use the same
//     pair — in both directions;
//   - session ids ("session" members) are bound the same way;
//   - strings that are times on both sides (RFC 3339, or HTTP dates as in
//     CIF's reportTime) are equal;
//   - numbers under a member whose name ends in "Ms" (lateByMs, timeoutMs,
//     retryAfterMs, …) are equal within LatencyTolerance;
//   - "attemptId" and "resumeToken" members are ignored (minted per run;
//     a capture holds resume tokens redacted), as is bridge.hello's
//     result.version (the bridge build);
//   - "@odata.etag" and "versionnumber" values are not compared (their
//     presence is): they count the store's writes, so they depend on what
//     the store held before the session (a seed, other sessions), not on
//     the session.
type Rules struct {
	// LatencyTolerance bounds |captured - replayed| for *Ms numbers.
	LatencyTolerance time.Duration
	// Ignore lists JSON paths not compared: "result.createdon",
	// "error.data.attemptId", "params.entry.*", "result.value[0].name". A
	// path segment "*" or "[]" matches any member or index; a path without a
	// dot ("createdon") matches that member name at any depth.
	Ignore []string
	// LooseStrings compares a string holding JSON with the object it encodes
	// (real CIF stringifies some results; the bridge does not). Set for
	// browser-recorder captures.
	LooseStrings bool
}

// Diff is one difference, at a JSON path of the message.
type Diff struct {
	Path string          `json:"path"`
	Want json.RawMessage `json:"want"` // captured; null when absent
	Got  json.RawMessage `json:"got"`  // replayed; null when absent
	Note string          `json:"note,omitempty"`
}

func (d Diff) String() string {
	s := fmt.Sprintf("%s: want %s, got %s", d.Path, short(d.Want), short(d.Got))
	if d.Note != "" {
		s += " (" + d.Note + ")"
	}
	return s
}

func short(b json.RawMessage) string {
	if len(b) == 0 {
		return "<absent>"
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// freshRE matches the ids a bridge mints per run and a replay must track:
// GUIDs (records, logical-create keys) and duplicate-ledger entry ids ("L"
// and 32 hex digits, bridge/ledger.NewID).
var freshRE = regexp.MustCompile(`(?i:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|\bL[0-9a-f]{32}\b`)

// matcher applies Rules and holds a session's bindings (ids, GUIDs,
// session ids). Not safe for concurrent use: callers lock.
type matcher struct {
	rules  Rules
	ignore [][]string
	bind   map[string]string // "g:"+captured GUID (lower) / "s:"+captured session → live
	rev    map[string]string // the reverse
	ids    map[string]string // captured widget request id (raw JSON) → live id (raw JSON)
}

func newMatcher(r Rules) *matcher {
	m := &matcher{rules: r, bind: map[string]string{}, rev: map[string]string{}, ids: map[string]string{}}
	for _, p := range r.Ignore {
		if sp := splitPath(p); len(sp) > 0 { // an empty path would match the message itself
			m.ignore = append(m.ignore, sp)
		}
	}
	return m
}

// CheckIgnorePath reports an error when p (a Rules.Ignore path) names no
// member: "", "." and the like would otherwise stand for the whole message.
func CheckIgnorePath(p string) error {
	if len(splitPath(strings.TrimSpace(p))) == 0 {
		return fmt.Errorf("%q names no JSON path; give one like result.createdon, or a member name like createdon", p)
	}
	return nil
}

// splitPath turns "a.b[2].c" into ["a" "b" "2" "c"] and "x[]" into ["x" "*"].
func splitPath(p string) []string {
	p = strings.ReplaceAll(p, "[]", ".*")
	p = strings.ReplaceAll(p, "[", ".")
	p = strings.ReplaceAll(p, "]", "")
	var out []string
	for _, s := range strings.Split(p, ".") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (m *matcher) ignored(path []string) bool {
	for _, p := range m.ignore {
		if len(p) == 1 && len(path) > 0 && (p[0] == path[len(path)-1] || p[0] == "*") {
			return true
		}
		if len(p) != len(path) {
			continue
		}
		ok := true
		for i := range p {
			if p[i] != "*" && p[i] != path[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// compare compares two JSON-RPC messages (or parts of them), ignoring the
// top-level "id". extraIgnore are more paths for this message. Bindings made
// along the way are kept only when commit is true or there is no diff.
func (m *matcher) compare(want, got json.RawMessage, commit bool, extraIgnore ...string) []Diff {
	w, err1 := decode(want)
	g, err2 := decode(got)
	if err1 != nil || err2 != nil {
		if bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(got)) {
			return nil
		}
		return []Diff{{Path: "$", Want: want, Got: got}}
	}
	c := &cmp{m: m, bind: map[string]string{}, rev: map[string]string{}}
	for _, p := range extraIgnore {
		c.extra = append(c.extra, splitPath(p))
	}
	c.walk(nil, w, g, true)
	if commit || len(c.diffs) == 0 {
		for k, v := range c.bind {
			m.bind[k] = v
		}
		for k, v := range c.rev {
			m.rev[k] = v
		}
	}
	return c.diffs
}

func decode(b json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

type cmp struct {
	m         *matcher
	extra     [][]string
	bind, rev map[string]string // tentative bindings
	diffs     []Diff
}

func (c *cmp) lookup(k string) (string, bool) {
	if v, ok := c.bind[k]; ok {
		return v, true
	}
	v, ok := c.m.bind[k]
	return v, ok
}

func (c *cmp) lookupRev(k string) (string, bool) {
	if v, ok := c.rev[k]; ok {
		return v, true
	}
	v, ok := c.m.rev[k]
	return v, ok
}

// bindPair binds captured key w to live g (kind "g" or "s"); false on a
// conflict with an earlier binding.
func (c *cmp) bindPair(kind, w, g string) bool {
	kw, kg := kind+":"+w, kind+":"+g
	if v, ok := c.lookup(kw); ok {
		return v == g
	}
	if v, ok := c.lookupRev(kg); ok {
		return v == w
	}
	c.bind[kw], c.rev[kg] = g, w
	return true
}

func (c *cmp) diff(path []string, w, g any, note string) {
	c.diffs = append(c.diffs, Diff{Path: pathString(path), Want: enc(w), Got: enc(g), Note: note})
}

type absent struct{}

func enc(v any) json.RawMessage {
	if _, ok := v.(absent); ok {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

func pathString(path []string) string {
	if len(path) == 0 {
		return "$"
	}
	var sb strings.Builder
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			sb.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(p)
	}
	return sb.String()
}

func (c *cmp) ignoredPath(path []string) bool {
	if c.m.ignored(path) {
		return true
	}
	for _, p := range c.extra {
		if len(p) == len(path) && strings.Join(p, ".") == strings.Join(path, ".") {
			return true
		}
	}
	return false
}

func (c *cmp) walk(path []string, w, g any, top bool) {
	if c.ignoredPath(path) {
		return
	}
	key := ""
	if len(path) > 0 {
		key = path[len(path)-1]
	}
	switch key {
	case "attemptId", "resumeToken", "@odata.etag", "versionnumber":
		return
	case "requestId":
		c.requestID(path, w, g)
		return
	case "session":
		ws, ok1 := w.(string)
		gs, ok2 := g.(string)
		if ok1 && ok2 {
			if !c.bindPair("s", ws, gs) {
				c.diff(path, w, g, "session id bound to another one earlier in this session")
			}
			return
		}
	}
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			c.loose(path, w, g)
			return
		}
		keys := make([]string, 0, len(wv)+len(gv))
		for k := range wv {
			keys = append(keys, k)
		}
		for k := range gv {
			if _, ok := wv[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if top && k == "id" {
				continue
			}
			a, inW := wv[k]
			b, inG := gv[k]
			p := append(append([]string(nil), path...), k)
			switch {
			case !inW:
				if !c.ignoredPath(p) && !perRun(k) {
					c.diff(p, absent{}, b, "extra member")
				}
			case !inG:
				if !c.ignoredPath(p) && !perRun(k) {
					c.diff(p, a, absent{}, "missing member")
				}
			default:
				c.walk(p, a, b, false)
			}
		}
	case []any:
		gv, ok := g.([]any)
		if !ok {
			c.loose(path, w, g)
			return
		}
		if len(wv) != len(gv) {
			c.diff(path, w, g, fmt.Sprintf("%d elements, want %d", len(gv), len(wv)))
			return
		}
		for i := range wv {
			c.walk(append(append([]string(nil), path...), strconv.Itoa(i)), wv[i], gv[i], false)
		}
	case string:
		gv, ok := g.(string)
		if !ok {
			c.loose(path, w, g)
			return
		}
		c.str(path, wv, gv)
	case json.Number:
		gv, ok := g.(json.Number)
		if !ok {
			c.diff(path, w, g, "")
			return
		}
		if wv == gv {
			return
		}
		if strings.HasSuffix(key, "Ms") {
			a, err1 := wv.Float64()
			b, err2 := gv.Float64()
			if err1 == nil && err2 == nil && math.Abs(a-b) <= float64(c.m.rules.LatencyTolerance.Milliseconds()) {
				return
			}
			c.diff(path, w, g, "beyond --latency-tolerance "+c.m.rules.LatencyTolerance.String())
			return
		}
		c.diff(path, w, g, "")
	default: // bool, nil
		if w != g {
			c.diff(path, w, g, "")
		}
	}
}

// loose compares a JSON-holding string with a structured value when
// LooseStrings is set; otherwise it is a plain difference.
func (c *cmp) loose(path []string, w, g any) {
	if c.m.rules.LooseStrings {
		if s, ok := w.(string); ok {
			if v, err := decode(json.RawMessage(s)); err == nil {
				c.walk(path, v, g, false)
				return
			}
		}
		if s, ok := g.(string); ok {
			if v, err := decode(json.RawMessage(s)); err == nil {
				c.walk(path, w, v, false)
				return
			}
		}
	}
	c.diff(path, w, g, "different types")
}

func (c *cmp) str(path []string, w, g string) {
	if w == g && !freshRE.MatchString(w) {
		return
	}
	if isTime(w) && isTime(g) {
		return
	}
	wg := freshRE.FindAllStringIndex(w, -1)
	gg := freshRE.FindAllStringIndex(g, -1)
	if len(wg) != len(gg) || freshRE.ReplaceAllString(w, "{guid}") != freshRE.ReplaceAllString(g, "{guid}") {
		if c.m.rules.LooseStrings {
			if v, err := decode(json.RawMessage(w)); err == nil {
				if gv, err := decode(json.RawMessage(g)); err == nil {
					c.walk(path, v, gv, false)
					return
				}
			}
		}
		c.diff(path, w, g, "")
		return
	}
	for i := range wg {
		a := freshKey(w[wg[i][0]:wg[i][1]])
		b := freshKey(g[gg[i][0]:gg[i][1]])
		if !c.bindPair("g", a, b) {
			c.diff(path, w, g, c.conflictNote(a, b))
			return
		}
	}
}

// conflictNote says which earlier binding the captured GUID a and the
// replay's GUID b broke: a's own, or b's (bound to another captured GUID).
func (c *cmp) conflictNote(a, b string) string {
	if want, ok := c.lookup("g:" + a); ok {
		return fmt.Sprintf("GUID %s was bound to %s earlier in this session", a, want)
	}
	had, _ := c.lookupRev("g:" + b)
	return fmt.Sprintf("the replay's GUID %s stood for the captured %s earlier in this session", b, had)
}

// freshKey is how a fresh id is bound: GUIDs case-insensitively (Dataverse
// does not care), ledger ids as they are.
func freshKey(id string) string {
	if strings.HasPrefix(id, "L") {
		return id
	}
	return strings.ToLower(id)
}

func (c *cmp) requestID(path []string, w, g any) {
	wb, gb := enc(w), enc(g)
	if live, ok := c.m.ids[string(wb)]; ok {
		if live != string(gb) {
			c.diff(path, w, g, "names another request than the captured one")
		}
		return
	}
	if !bytes.Equal(wb, gb) {
		c.diff(path, w, g, "names a request the replay did not send")
	}
}

// isTime reports whether s is an RFC 3339 time or an HTTP date (RFC 1123,
// as in CIF's error reportTime).
func isTime(s string) bool {
	if len(s) < 20 {
		return false
	}
	if s[4] == '-' && s[10] == 'T' {
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	}
	for _, layout := range []string{time.RFC1123, time.RFC1123Z} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// substitute rewrites a captured message for sending: captured GUIDs and
// session ids already bound are replaced by their live values.
func (m *matcher) substitute(msg json.RawMessage) json.RawMessage {
	out := freshRE.ReplaceAllFunc(msg, func(g []byte) []byte {
		if v, ok := m.bind["g:"+freshKey(string(g))]; ok {
			return []byte(v)
		}
		return g
	})
	for k, v := range m.bind {
		if s, ok := strings.CutPrefix(k, "s:"); ok && s != v {
			ws, _ := json.Marshal(s)
			gs, _ := json.Marshal(v)
			out = bytes.ReplaceAll(out, ws, gs)
		}
	}
	return out
}

// perRun reports whether a member holds a value minted per run, compared
// neither by value nor by presence.
func perRun(member string) bool { return member == "attemptId" || member == "resumeToken" }
