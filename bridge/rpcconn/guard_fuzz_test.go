package rpcconn

import (
	"encoding/binary"
	"testing"
)

// FuzzFrameScan: the frame-header watch never panics, gives the same
// answer however the stream is cut into reads (the refusal, the frame
// and message boundaries), and refuses exactly when a data message
// announces more than the limit; a whole header taken at once between
// messages (header, nextText's way) leaves the very state feed does.
func FuzzFrameScan(f *testing.F) {
	hdr := func(b0 byte, n uint64) []byte {
		h := []byte{b0, 0x80 | 127}
		return append(binary.BigEndian.AppendUint64(h, n), 1, 2, 3, 4)
	}
	f.Add(append([]byte{0x81, 0x85, 1, 2, 3, 4}, "hello"...), uint16(1))
	f.Add(hdr(0x81, 1<<62), uint16(3))
	f.Add(hdr(0x81, 1<<63|5), uint16(7))
	f.Add(append(append([]byte{0x01, 0x83, 0, 0, 0, 0}, "abc"...), 0x80, 0x83, 0, 0, 0, 0, 'd', 'e', 'f'), uint16(2))
	f.Add([]byte{0x89, 0x80, 0, 0, 0, 0, 0x81, 0xfe, 0x10, 0x00, 0, 0, 0, 0}, uint16(5))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint16) {
		const limit = 4096
		whole := frameScan{limit: limit, need: 2}
		wantErr := whole.feed(stream)
		parts := frameScan{limit: limit, need: 2}
		step := int(cut%64) + 1
		var gotErr error
		for i := 0; i < len(stream) && gotErr == nil; i += step {
			gotErr = parts.feed(stream[i:min(i+step, len(stream))])
		}
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("whole: %v; in reads of %d: %v", wantErr, step, gotErr)
		}
		heads := frameScan{limit: limit, need: 2}
		var headErr error
		for rest := stream; len(rest) > 0 && headErr == nil; {
			if hlen, _ := frameHeaderLen(rest); hlen > 0 && heads.boundary() {
				headErr = heads.header(rest[:hlen])
				rest = rest[hlen:]
				continue
			}
			n := min(int64(len(rest)), max(heads.left(), 1))
			headErr = heads.feed(rest[:n])
			rest = rest[n:]
		}
		if (wantErr == nil) != (headErr == nil) || wantErr == nil && heads != whole {
			t.Fatalf("fed whole: %v, %+v; headers taken at once: %v, %+v", wantErr, whole, headErr, heads)
		}
		if wantErr == nil && (whole.msg > limit || whole.skip < 0) {
			t.Fatalf("accepted a message of %d bytes (limit %d)", whole.msg, limit)
		}
		if wantErr != nil {
			return
		}
		// What the reader and the read timeout rely on is the same too.
		if whole.begun != parts.begun || whole.boundary() != parts.boundary() || whole.left() != parts.left() {
			t.Fatalf("whole: %d begun, boundary %v, %d left; in reads of %d: %d, %v, %d",
				whole.begun, whole.boundary(), whole.left(), step, parts.begun, parts.boundary(), parts.left())
		}
	})
}
