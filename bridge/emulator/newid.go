package emulator

import (
	"crypto/rand"

	"github.com/google/uuid"
)

// idSource hands out random (version 4) GUIDs for new records from a
// buffer of crypto/rand bytes refilled 256 GUIDs at a time: uuid.New reads
// 16 bytes through an io.Reader per call, one allocation and one getrandom
// each. It is guarded by Emulator.mu (records are created under it).
type idSource struct {
	buf  [256 * 16]byte
	left int // unused GUIDs at the end of buf
}

func (s *idSource) newID() uuid.UUID {
	if s.left == 0 {
		rand.Read(s.buf[:]) // never fails (crypto/rand crashes the process instead)
		s.left = len(s.buf) / 16
	}
	var u uuid.UUID
	off := len(s.buf) - 16*s.left
	copy(u[:], s.buf[off:off+16])
	s.left--
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// appendGUID appends u in its canonical text form (as uuid.UUID.String,
// without allocating a string).
func appendGUID(b []byte, u uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0x0f])
	}
	return b
}
