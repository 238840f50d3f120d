package protocol

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBlankAndTrimSpaceAreTheStandardOnes: blank and trimSpace, which
// skip the work for a text with printable ASCII ends, answer exactly as
// strings.TrimSpace(s) == "" and bytes.TrimSpace do, Unicode spaces
// (U+0085, U+00A0, U+2000, U+3000) included, at either end and alone.
func TestBlankAndTrimSpaceAreTheStandardOnes(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := blank(s), strings.TrimSpace(s) == ""; got != want {
			t.Fatalf("blank(%q) = %v, want %v", s, got, want)
		}
		if got, want := trimSpace([]byte(s)), bytes.TrimSpace([]byte(s)); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("trimSpace(%q) = %q, want %q", s, got, want)
		}
	}
	pieces := []string{"", " ", "\t", "\n", "\v", "\f", "\r", "\x00", "\x1f", "!", "~", "\x7f", "\u0085", "\u00a0", "\u2000", "\u3000", "\xc2", "\xff", "{", "}", "a", "é"}
	for _, a := range pieces {
		for _, b := range pieces {
			for _, c := range pieces {
				check(a + b + c)
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var sb strings.Builder
		for range r.IntN(6) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		check(sb.String())
	}
}
