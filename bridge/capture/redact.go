package capture

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Redacted replaces every credential before a frame reaches disk.
const Redacted = "[redacted]"

var redactedJSON = []byte(`"` + Redacted + `"`)

// sensitiveKeys are member names whose value is always redacted, compared
// case-insensitively after dropping '_' and '-' (so "client_secret" and
// "Api-Key" match too).
var sensitiveKeys = []string{
	"authorization", "proxyauthorization",
	"token", "enreachtoken", "accesstoken", "refreshtoken", "idtoken", "resumetoken",
	"secret", "clientsecret", "secretkey",
	"password", "passwd",
	"apikey",
}

// Redact returns msg with credentials replaced by "[redacted]":
//
//   - the value (of any type) of every object member whose name is, ignoring
//     case, '_' and '-', one of authorization, proxyAuthorization, token,
//     enreachToken, accessToken, refreshToken, idToken, resumeToken, secret, clientSecret,
//     secretKey, password, passwd, apiKey;
//   - every string value (not member name) that starts, ignoring case, with
//     "Bearer " or "Basic ";
//   - the same, recursively, inside string values that hold JSON (CIF passes
//     records and query bodies as JSON strings).
//
// When nothing matches, msg itself is returned, so messages without
// credentials stay byte-exact and cost no allocation. Input that is not valid
// JSON is scrubbed as text, best effort: the token after "Bearer "/"Basic ",
// and the value after one of the names above followed by ':' or '='.
func Redact(msg []byte) []byte {
	if !json.Valid(msg) {
		return redactText(msg)
	}
	out, _ := redactJSON(msg)
	return out
}

// redactJSON redacts a valid JSON text; changed is false when msg itself is
// returned.
func redactJSON(msg []byte) (out []byte, changed bool) {
	r := redactor{in: msg}
	r.value(0)
	if len(r.edits) == 0 {
		return msg, false
	}
	out = make([]byte, 0, len(msg))
	last := 0
	for _, e := range r.edits {
		out = append(out, msg[last:e.start]...)
		out = append(out, e.repl...)
		last = e.end
	}
	return append(out, msg[last:]...), true
}

type edit struct {
	start, end int
	repl       []byte
}

// redactor walks a JSON text known to be valid and records the spans to
// replace, in increasing order.
type redactor struct {
	in    []byte
	edits []edit
}

func (r *redactor) ws(i int) int {
	for i < len(r.in) {
		switch r.in[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value walks the value at i (after whitespace) and returns the index after it.
func (r *redactor) value(i int) int {
	i = r.ws(i)
	if i >= len(r.in) {
		return i
	}
	switch r.in[i] {
	case '{':
		i = r.ws(i + 1)
		if r.in[i] == '}' {
			return i + 1
		}
		for {
			ks := i
			i = r.str(i)
			sensitive := sensitiveKey(r.in[ks:i])
			i = r.ws(i) + 1 // ':'
			vs := r.ws(i)
			n := len(r.edits)
			i = r.value(vs)
			if sensitive {
				r.edits = append(r.edits[:n], edit{vs, i, redactedJSON})
			}
			i = r.ws(i)
			if r.in[i] == '}' {
				return i + 1
			}
			i = r.ws(i + 1) // ','
		}
	case '[':
		i = r.ws(i + 1)
		if r.in[i] == ']' {
			return i + 1
		}
		for {
			i = r.ws(r.value(i))
			if r.in[i] == ']' {
				return i + 1
			}
			i++ // ','
		}
	case '"':
		end := r.str(i)
		r.stringValue(i, end)
		return end
	default: // number, true, false, null
		for i < len(r.in) {
			switch r.in[i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// str returns the index after the string starting at i.
func (r *redactor) str(i int) int {
	for i++; i < len(r.in); i++ {
		switch r.in[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

func (r *redactor) stringValue(start, end int) {
	raw := r.in[start+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		// No escapes: no nested JSON with strings in it, and no allocation.
		if hasAuthPrefix(raw) {
			r.edits = append(r.edits, edit{start, end, redactedJSON})
		}
		return
	}
	s, ok := unquote(raw)
	if !ok {
		return
	}
	if hasAuthPrefix([]byte(s)) {
		r.edits = append(r.edits, edit{start, end, redactedJSON})
		return
	}
	t := strings.TrimSpace(s)
	if len(t) < 2 || (t[0] != '{' && t[0] != '[') || !json.Valid([]byte(t)) {
		return
	}
	red, changed := redactJSON([]byte(s))
	if !changed {
		return
	}
	r.edits = append(r.edits, edit{start, end, quote(red)})
}

// unquote decodes a string's contents; without escapes it only converts.
func unquote(raw []byte) (string, bool) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	var s string
	err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s)
	return s, err == nil
}

// quote encodes s as a JSON string without HTML escaping.
func quote(s []byte) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s))
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func hasAuthPrefix(s []byte) bool {
	return len(s) > 6 && bytes.EqualFold(s[:6], []byte("basic ")) ||
		len(s) > 7 && bytes.EqualFold(s[:7], []byte("bearer "))
}

// sensitiveKey reports whether a quoted member name is a credential's.
func sensitiveKey(quoted []byte) bool {
	if len(quoted) < 2 {
		return false
	}
	name := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		s, ok := unquote(name)
		if !ok {
			return false
		}
		name = []byte(s)
	}
	return sensitiveName(name)
}

func sensitiveName(name []byte) bool {
	var buf [32]byte
	n := 0
	for _, c := range name {
		switch {
		case c == '_' || c == '-':
			continue
		case n == len(buf):
			return false
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	for _, k := range sensitiveKeys {
		if string(buf[:n]) == k {
			return true
		}
	}
	return false
}

// redactText scrubs text that is not JSON, best effort.
func redactText(msg []byte) []byte {
	out := msg
	copied := false
	// redact replaces the value out[vs:ve] with Redacted (on a copy of msg)
	// and returns where the value ends now.
	redact := func(vs, ve int) int {
		if ve == vs || string(out[vs:ve]) == Redacted {
			return ve
		}
		if !copied {
			out = append([]byte(nil), out...)
			copied = true
		}
		out = append(out[:vs], append([]byte(Redacted), out[ve:]...)...)
		return vs + len(Redacted)
	}
	// "Bearer xyz" / "Basic xyz": the token goes.
	for _, scheme := range []string{"bearer ", "basic "} {
		for from := 0; ; {
			i := indexFold(out[from:], scheme)
			if i < 0 {
				break
			}
			vs := from + i + len(scheme)
			ve := vs
			for ve < len(out) && tokenChar(out[ve]) {
				ve++
			}
			from = redact(vs, ve)
		}
	}
	// name: value, name=value, "name":"value".
	for i := 0; i < len(out); {
		if !nameChar(out[i]) || i > 0 && nameChar(out[i-1]) {
			i++
			continue
		}
		j := i
		for j < len(out) && nameChar(out[j]) {
			j++
		}
		if !sensitiveName(out[i:j]) {
			i = j
			continue
		}
		k := j
		for k < len(out) && (out[k] == '"' || out[k] == '\'' || out[k] == ' ') {
			k++
		}
		if k >= len(out) || out[k] != ':' && out[k] != '=' {
			i = j
			continue
		}
		k++
		for k < len(out) && (out[k] == '"' || out[k] == '\'' || out[k] == ' ') {
			k++
		}
		if bytes.HasPrefix(out[k:], []byte(Redacted)) {
			i = k + len(Redacted)
			continue
		}
		ve := k
		for ve < len(out) && !bytes.ContainsRune([]byte("\"', \t\r\n;&}]"), rune(out[ve])) {
			ve++
		}
		i = redact(k, ve)
	}
	return out
}

func indexFold(b []byte, lowerNeedle string) int {
	for i := 0; i+len(lowerNeedle) <= len(b); i++ {
		if strings.EqualFold(string(b[i:i+len(lowerNeedle)]), lowerNeedle) {
			return i
		}
	}
	return -1
}

func tokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
