// Package logcap bounds what client input can do to the logs: Str cuts a
// client-supplied string to a few dozen bytes (Prefix cuts to any length on
// a rune boundary), and a Sampler lets one line per reason through per
// interval, counting the ones it held back.
//
// Entry points: Str, Prefix, NewSampler, Sampler.Allow.
package logcap

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxStr is the most bytes of a client string Str keeps.
const MaxStr = 64

// Str returns s when it is at most MaxStr bytes, else its first MaxStr bytes
// (cut on a rune boundary) followed by "…(+N bytes)". Invalid UTF-8 is kept
// as is: zerolog escapes it.
func Str(s string) string {
	head := Prefix(s, MaxStr)
	if len(head) == len(s) {
		return s
	}
	return head + "…(+" + strconv.Itoa(len(s)-len(head)) + " bytes)"
}

// Prefix is the longest prefix of s of at most n bytes that does not end
// inside a multi-byte rune: s itself when it is at most n bytes. Invalid
// UTF-8 is cut like any other byte.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Sampler lets through one log line per reason per interval. Its zero value
// is not usable; build it with NewSampler. It is safe for concurrent use.
type Sampler struct {
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	reasons map[string]*window
}

type window struct {
	start      time.Time
	suppressed int
}

// NewSampler returns a Sampler that lets one line per reason through every
// interval (default 10 s when interval <= 0).
func NewSampler(interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return &Sampler{every: interval, now: time.Now, reasons: map[string]*window{}}
}

// Allow reports whether a line for reason may be logged now, and how many
// lines for it were held back since the last one allowed (log it as a count
// so the volume stays visible). reason must come from a fixed set, never
// from client input, or the sampler's own memory would grow with it.
func (s *Sampler) Allow(reason string) (ok bool, suppressed int) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.reasons[reason]
	if w == nil {
		s.reasons[reason] = &window{start: now}
		return true, 0
	}
	if now.Sub(w.start) < s.every {
		w.suppressed++
		return false, 0
	}
	n := w.suppressed
	w.start, w.suppressed = now, 0
	return true, n
}
