package protocol

import (
	"encoding/binary"
	"math/bits"
)

// Eight bytes at a time: the scans of strings (scanFrame's, the trusting
// scans of ScanValidFlatObject) skip the plain bytes of a string a word at
// a time, then look at the byte that stopped them one by one as before.
//
// Each test below flags, in a byte's high bit, the bytes of a word (loaded
// little-endian) it looks for. A subtraction may borrow into the bytes
// above a flagged one and flag some of them too, but never one below it:
// the lowest flag is always a real one, so the index of the first byte to
// stop at is exact (firstFlagged).

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// swarZero is the per-byte part of a zero test: a byte of x that is zero
// gets its high bit set in swarZero(x)&swarHighs (x^c*swarOnes is zero
// where x holds c). The callers OR such parts together and mask once.
func swarZero(x uint64) uint64 { return (x - swarOnes) &^ x }

// swarNotPlain flags the bytes of x that plainByte refuses: a quote, a
// backslash, a control character (below 0x20) or a byte above 0x7f.
func swarNotPlain(x uint64) uint64 {
	return (swarZero(x^(swarOnes*'"')) | swarZero(x^(swarOnes*'\\')) | (x - swarOnes*0x20) | x) & swarHighs
}

// firstFlagged is the index in its word of the first flagged byte (flags
// not zero).
func firstFlagged(flags uint64) int { return bits.TrailingZeros64(flags) >> 3 }

// plainEnd returns the index of the first byte at or after j that
// plainByte refuses, or len(data). (data[j:j+8], not data[j:], lets the
// compiler drop the word load's own bounds check.)
func plainEnd(data []byte, j int) int {
	for ; j+8 <= len(data); j += 8 {
		if f := swarNotPlain(binary.LittleEndian.Uint64(data[j : j+8])); f != 0 {
			return j + firstFlagged(f)
		}
	}
	for j < len(data) && plainByte[data[j]] {
		j++
	}
	return j
}

// nextStop returns the index of the first byte at or after j that is a
// quote or a backslash or, when high, above 0x7f; len(data) when there is
// none.
func nextStop(data []byte, j int, high bool) int {
	var h uint64
	if high {
		h = swarHighs
	}
	for ; j+8 <= len(data); j += 8 {
		x := binary.LittleEndian.Uint64(data[j : j+8])
		if f := (swarZero(x^(swarOnes*'"')) | swarZero(x^(swarOnes*'\\')) | x&h) & swarHighs; f != 0 {
			return j + firstFlagged(f)
		}
	}
	for ; j < len(data); j++ {
		if c := data[j]; c == '"' || c == '\\' || high && c >= 0x80 {
			return j
		}
	}
	return j
}
