// Package redact removes known secrets from text in every encoding a secret
// takes on its way through HTTP and JSON: as it is, JSON-escaped once or
// twice (with and without HTML escaping), percent-encoded (by any encoder: each reserved
// character as is or as %XX in either case, a space also as +), Base64 of
// the secret alone, and Base64 of "user:secret" (HTTP Basic credentials).
//
// The bridge knows its secrets (its tokens, the Enreach secret, a widget's
// Enreach token, the Dataverse client secret and access token); an upstream
// that echoes one, in whatever encoding, must not carry it to a widget, a
// log line, a capture or /readyz.
//
// Entry points: Forms lists the encodings of one secret; Bytes and String
// replace every form of the given secrets with Redacted.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Redacted replaces a secret.
const Redacted = "[redacted]"

// MinLen is the shortest secret redacted: replacing every "ab" would wreck
// the text and protect nothing.
const MinLen = 4

// Secret is one secret, with the user names it is sent with as HTTP Basic
// credentials (their Base64 is a form of it too).
type Secret struct {
	Value string
	Users []string
}

// Forms returns every encoding of s.Value worth looking for, longest first,
// without duplicates; none when the secret is shorter than MinLen.
func Forms(s Secret) []string {
	v := s.Value
	if len(v) < MinLen {
		return nil
	}
	// The encodings of the value itself, then each of them as a JSON
	// string holds it (an upstream's JSON answer quoting a URL or a header).
	base := []string{v, url.QueryEscape(v), url.PathEscape(v), strings.ReplaceAll(url.QueryEscape(v), "+", "%20")}
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		base = append(base, e.EncodeToString([]byte(v)))
		for _, u := range s.Users {
			base = append(base, e.EncodeToString([]byte(u+":"+v)))
		}
	}
	set := map[string]bool{}
	for _, f := range base {
		set[f] = true
		// JSON-escaped once (a JSON answer quoting it), and twice (a JSON
		// answer quoting JSON text that quotes it, e.g. a request body).
		for _, html := range []bool{true, false} {
			once := jsonEscaped(f, html)
			set[once] = true
			set[jsonEscaped(once, html)] = true
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// Bytes returns b with every form of every secret replaced by Redacted. It
// returns b itself when nothing matched.
func Bytes(b []byte, secrets ...Secret) []byte {
	for _, s := range secrets {
		for _, f := range Forms(s) {
			if bytes.Contains(b, []byte(f)) {
				b = bytes.ReplaceAll(b, []byte(f), []byte(Redacted))
			}
		}
		b = replacePercent(b, percentPattern(s.Value))
	}
	return b
}

// String is Bytes for a string.
func String(s string, secrets ...Secret) string {
	for _, sec := range secrets {
		for _, f := range Forms(sec) {
			if strings.Contains(s, f) {
				s = strings.ReplaceAll(s, f, Redacted)
			}
		}
		if re := percentPattern(sec.Value); re != nil && strings.ContainsAny(s, "%+") {
			s = re.ReplaceAllLiteralString(s, Redacted)
		}
	}
	return s
}

// percentPattern matches v percent-encoded by any encoder. Encoders differ
// in which reserved characters they leave alone (Go's QueryEscape and
// PathEscape, JavaScript's encodeURIComponent, Python's quote keeping "/")
// and in the case of their hex digits, so Forms cannot list them all: here
// each character outside RFC 3986's unreserved set may stand as is or as
// its UTF-8 bytes in %XX, either case, and a space also as +. nil when v
// is shorter than MinLen or has no such character (its only percent form is
// itself).
func percentPattern(v string) *regexp.Regexp {
	if len(v) < MinLen {
		return nil
	}
	var b strings.Builder
	reserved := false
	for _, r := range v {
		if r < utf8.RuneSelf && unreserved(byte(r)) {
			b.WriteString(regexp.QuoteMeta(string(r)))
			continue
		}
		reserved = true
		b.WriteString("(?:" + regexp.QuoteMeta(string(r)) + "|")
		if r == ' ' {
			b.WriteString(`\+|`)
		}
		var enc [utf8.UTFMax]byte
		for _, c := range enc[:utf8.EncodeRune(enc[:], r)] {
			b.WriteString("%")
			for _, h := range fmt.Sprintf("%02X", c) {
				if h >= 'A' {
					b.WriteString("[" + string(h) + string(h+'a'-'A') + "]")
				} else {
					b.WriteRune(h)
				}
			}
		}
		b.WriteString(")")
	}
	if !reserved {
		return nil
	}
	return regexp.MustCompile(b.String())
}

// unreserved tells whether c is in RFC 3986's unreserved set, which every
// percent-encoder leaves as is.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// replacePercent replaces what re matches in b with Redacted, when b can
// hold a percent form at all; b itself when re is nil or nothing matched.
func replacePercent(b []byte, re *regexp.Regexp) []byte {
	if re == nil || bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 || !re.Match(b) {
		return b
	}
	return re.ReplaceAllLiteral(b, []byte(Redacted))
}

// jsonEscaped is s as it stands between the quotes of a JSON string, with
// or without HTML escaping (encoding/json's default and its other mode).
func jsonEscaped(s string, html bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if enc.Encode(s) != nil {
		return s
	}
	b := bytes.TrimSpace(buf.Bytes())
	return string(b[1 : len(b)-1])
}

// Set is a fixed set of secrets with their forms computed once, for hot
// paths (every captured frame). The zero value and nil redact nothing.
type Set struct {
	forms   [][]byte         // longest first
	percent []*regexp.Regexp // percentPattern of each secret that has one
}

// NewSet returns the Set of secrets (those shorter than MinLen left out).
func NewSet(secrets ...Secret) *Set {
	s := &Set{}
	seen := map[string]bool{}
	for _, sec := range secrets {
		for _, f := range Forms(sec) {
			if !seen[f] {
				seen[f] = true
				s.forms = append(s.forms, []byte(f))
			}
		}
		if re := percentPattern(sec.Value); re != nil {
			s.percent = append(s.percent, re)
		}
	}
	sort.Slice(s.forms, func(i, j int) bool { return len(s.forms[i]) > len(s.forms[j]) })
	return s
}

// Bytes returns b with every form replaced by Redacted; b itself when
// nothing matched.
func (s *Set) Bytes(b []byte) []byte {
	if s == nil {
		return b
	}
	for _, f := range s.forms {
		if bytes.Contains(b, f) {
			b = bytes.ReplaceAll(b, f, []byte(Redacted))
		}
	}
	for _, re := range s.percent {
		b = replacePercent(b, re)
	}
	return b
}
