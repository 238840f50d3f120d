// Package redact removes known secrets from text in every encoding a secret
// takes on its way through HTTP and JSON: as it is, JSON-escaped (with and
// without HTML escaping), percent-encoded (query and path forms), Base64 of
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
	"net/url"
	"sort"
	"strings"
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
		set[jsonEscaped(f, true)] = true
		set[jsonEscaped(f, false)] = true
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
	}
	return s
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
	forms [][]byte // longest first
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
	return b
}
