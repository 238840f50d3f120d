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
