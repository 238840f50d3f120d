package emulator

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLikeMatch: the LIKE patterns of FetchXML's like and of OData's
// contains/startswith/endswith with wildcards, sets and ranges included,
// and malformed patterns matched without a panic.
func TestLikeMatch(t *testing.T) {
	for _, tt := range []struct {
		s, p string
		want bool
	}{
		{"ada lovelace", "a_a%", true},
		{"ada lovelace", "%love%", true},
		{"ada lovelace", "%love", false},
		{"grace", "[gh]race", true},
		{"trace", "[gh]race", false},
		{"alan", "[a-b]la%", true},
		{"clan", "[a-b]la%", false},
		{"alan", "a[^d]%", true},
		{"ada", "a[^d]%", false},
		{"50%", "50[%]", true},
		{"500", "50[%]", false},
		{"a_b", "a[_]b", true},
		{"axb", "a[_]b", false},
		{"a]b", "a[]]b", true},
		{"a[b", "a[b", false},
		{"x", "[", false},
		{"x", "[^", false},
		{"", "[a-", false},
		{"", "%", true},
		{"é", "_", true},
		{"ü", "[ä-ö]", false},
	} {
		if got := likeMatch(tt.s, tt.p); got != tt.want {
			t.Errorf("likeMatch(%q, %q) = %v, want %v", tt.s, tt.p, got, tt.want)
		}
	}
}

// FuzzLikeMatch: any text against any pattern answers without a panic,
// and a pattern without wildcards matches exactly itself (for valid UTF-8,
// which is all a record or a query can hold).
func FuzzLikeMatch(f *testing.F) {
	for _, s := range [][2]string{{"ada", "a_a"}, {"x", "["}, {"a]b", "a[]]b"}, {"", "[^"}, {"é", "[a-é]"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, p string) {
		got := likeMatch(s, p)
		if utf8.ValidString(s) && utf8.ValidString(p) && !strings.ContainsAny(p, "%_[") && got != (s == p) {
			t.Fatalf("likeMatch(%q, %q) = %v for a pattern without wildcards", s, p, got)
		}
	})
}
