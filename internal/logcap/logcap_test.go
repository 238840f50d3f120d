package logcap

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

func TestStr(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"short", "softphone/1.2", "softphone/1.2"},
		{"exactly max", strings.Repeat("a", MaxStr), strings.Repeat("a", MaxStr)},
		{"long", strings.Repeat("a", 900_000), strings.Repeat("a", MaxStr) + "…(+899936 bytes)"},
		{"rune boundary", strings.Repeat("a", MaxStr-1) + "é" + "zz", strings.Repeat("a", MaxStr-1) + "…(+4 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Str(tt.in)
			if got != tt.want {
				t.Fatalf("Str = %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Str cut a rune: %q", got)
			}
		})
	}
}

// Prefix keeps at most n bytes and never ends inside a rune: it backs off
// to the rune's first byte (to nothing when the first rune is longer than
// n), and gives s itself when s fits.
func TestPrefix(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"fits", "abc", 3, "abc"},
		{"empty", "", 0, ""},
		{"ascii", "abcdef", 4, "abcd"},
		{"before a two-byte rune", "abcé", 4, "abc"},
		{"after a two-byte rune", "abcéz", 5, "abcé"},
		{"inside a four-byte rune", "a😀", 3, "a"},
		{"first rune too long", "😀x", 2, ""},
		{"invalid utf-8 is bytes", "ab\xffcd", 3, "ab\xff"},
		{"negative n", "abc", -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Prefix(tt.in, tt.n); got != tt.want {
				t.Fatalf("Prefix(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestSamplerOneLinePerReasonPerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSampler(10 * time.Second)
		if ok, _ := s.Allow("drop"); !ok {
			t.Fatal("first line of a reason held back")
		}
		for range 999 {
			if ok, _ := s.Allow("drop"); ok {
				t.Fatal("second line within the interval let through")
			}
		}
		if ok, _ := s.Allow("unmatched"); !ok {
			t.Fatal("another reason is sampled apart")
		}
		time.Sleep(10 * time.Second)
		ok, n := s.Allow("drop")
		if !ok || n != 999 {
			t.Fatalf("after the interval: ok %v suppressed %d, want true 999", ok, n)
		}
		if ok, _ := s.Allow("drop"); ok {
			t.Fatal("window not restarted")
		}
	})
}
