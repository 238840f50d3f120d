package protocol_test

import (
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
