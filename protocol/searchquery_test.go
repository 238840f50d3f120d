package protocol_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

func TestCutSearch(t *testing.T) {
	for in, want := range map[string]string{
		"?$select=fullname&$search=Ada":                 "?$select=fullname",
		"$search=Ada%20L&$top=1":                        "$top=1",
		"?$search=x":                                    "?",
		"?$select=fullname&$filter=x eq 'search'":       "?$select=fullname&$filter=x eq 'search'",
		"?%24search=Ada&$select=fullname":               "?$select=fullname",
		"?$filter=fullname eq 'a&$search=b'&$search=c":  "?$filter=fullname eq 'a&$search=b'",
		"?$select=fullname":                             "?$select=fullname",
		"?$searchx=1&$select=fullname&$search=Ada+Love": "?$searchx=1&$select=fullname",
	} {
		if got := protocol.CutSearch(in); got != want {
			t.Errorf("CutSearch(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCutSearch: what CutSearch keeps holds no $search option, the rest of
// the query in order, and cutting again changes nothing.
func FuzzCutSearch(f *testing.F) {
	for _, s := range []string{"?$select=fullname&$search=Ada", "%24search=x", "$filter=a eq '&$search=b'&$search=c", "?", "", "$search", "&&$search=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, qs string) {
		got := protocol.CutSearch(qs)
		if again := protocol.CutSearch(got); again != got {
			t.Fatalf("CutSearch(%q) = %q, cut again %q", qs, got, again)
		}
		for _, part := range protocol.SplitTop(strings.TrimPrefix(strings.TrimSpace(got), "?"), '&') {
			name, _, _ := strings.Cut(part, "=")
			if u, err := url.PathUnescape(name); err == nil && u == "$search" || name == "$search" {
				t.Fatalf("CutSearch(%q) = %q keeps %q", qs, got, part)
			}
		}
	})
}
