package protocol

import (
	"math/rand/v2"
	"testing"
)

// naivePlainEnd and naiveNextStop are plainEnd and nextStop a byte at a
// time.
func naivePlainEnd(data []byte, j int) int {
	for j < len(data) && plainByte[data[j]] {
		j++
	}
	return j
}

func naiveNextStop(data []byte, j int, high bool) int {
	for j < len(data) && data[j] != '"' && data[j] != '\\' && !(high && data[j] >= 0x80) {
		j++
	}
	return j
}

// TestSWARScansMatchByteScans: the word-at-a-time scans stop exactly where
// the byte-at-a-time ones do: every byte value at every offset of a word
// (and past it), among plain bytes and after other stopping bytes (whose
// subtractions borrow into the bytes above them), and random words.
func TestSWARScansMatchByteScans(t *testing.T) {
	check := func(data []byte, from int) {
		t.Helper()
		if got, want := plainEnd(data, from), naivePlainEnd(data, from); got != want {
			t.Fatalf("plainEnd(%q, %d) = %d, want %d", data, from, got, want)
		}
		for _, high := range []bool{false, true} {
			if got, want := nextStop(data, from, high), naiveNextStop(data, from, high); got != want {
				t.Fatalf("nextStop(%q, %d, %v) = %d, want %d", data, from, high, got, want)
			}
		}
	}
	for c := range 256 {
		for pos := range 20 {
			for _, fill := range []byte{'a', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, '"', '\\', '!', '#', '[', ']'} {
				data := make([]byte, 24)
				for i := range data {
					data[i] = 'a'
				}
				for i := pos + 1; i < len(data); i++ {
					data[i] = fill // bytes after the one under test
				}
				data[pos] = byte(c)
				for from := range 3 {
					check(data, from)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 'Z', ' ', 0x00, 0x01, 0x1f, 0x20, 0x21, '"', '#', '\\', ']', 0x7e, 0x7f, 0x80, 0x81, 0xc3, 0xfe, 0xff}
	for range 20000 {
		data := make([]byte, r.IntN(40))
		for i := range data {
			if r.IntN(4) == 0 {
				data[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				data[i] = byte(r.IntN(256))
			}
		}
		check(data, r.IntN(len(data)+1))
	}
}
