package rpcconn

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// The reader's fast path: a client's JSON-RPC message is nearly always one
// masked text frame of a few hundred bytes, whole in the Wire's read
// buffer. Wire.nextText takes such a frame straight from there (one copy,
// into a buffer of its exact size, unmasked in place) instead of through
// coder/websocket's Reader (its buffered reader byte by byte for the
// header, the message reader, the limit reader). Everything else (control
// frames, fragmented, binary or oversized messages, RSV bits, an unmasked
// frame) is left to the WebSocket, which reads it as it always did: the
// Wire hands it no byte past the end of the frame it is in (Wire.Read), so
// at every message boundary the WebSocket holds nothing buffered and
// either reader may take the next frame.

// maxFast bounds the payload nextText takes: a larger frame is read by the
// WebSocket, into a buffer that grows with what arrives instead of one of
// the size a header merely announces (a peer announcing the limit and
// sending nothing must not pin that much).
const maxFast = maxReadBuffer

// maxHeader is the longest frame header: 2 bytes, 8 of length, 4 of mask.
const maxHeader = 14

// setFast puts the Wire in fast mode when no extension was negotiated (a
// compressed frame's payload is not its message) and reports whether it
// did. Call it before the first read.
func (w *Wire) setFast() bool {
	w.rmu.lock()
	defer w.rmu.unlock()
	if w.extensions {
		return false
	}
	w.fast = true
	w.fastMax = maxFast
	if limit := w.scan.limit; limit >= 0 && limit < w.fastMax {
		w.fastMax = limit // a larger frame is refused, as the WebSocket does
	}
	return true
}

// nextText returns the next message when it is one unfragmented text frame
// (fin, opcode 1, no RSV bit), masked as a client's must be, of at most
// fastMax bytes: unmasked, in a buffer of its own of its exact size;
// ascii reports that every byte of it is below 0x80 (so valid UTF-8). It
// first waits for the socket as Read does: without a buffer while nothing
// has arrived, then with the stall timer armed once the frame has begun
// (its header incomplete, or its payload). ok is false, and nothing is
// taken, when the next frame is anything else, or when the WebSocket is in
// the middle of a frame or has bytes still to hand out (pre): the caller
// then reads through the WebSocket. err ends the connection: the socket
// failed or was closed (a stall, the connection's end).
func (w *Wire) nextText() (data []byte, ascii, ok bool, err error) {
	w.rmu.lock()
	defer w.rmu.unlock()
	if !w.fast || w.err != nil || len(w.pre) > 0 || !w.scan.boundary() {
		return nil, false, false, nil
	}
	if len(w.rbuf) == 0 {
		if err := w.fill(); err != nil { // between messages: no stall timer
			return nil, false, false, w.closedErr(err)
		}
		if len(w.rbuf) == 0 { // a read of nothing (not on a plain socket)
			return nil, false, false, nil
		}
	}
	const finText = 0x80 | 0x1 // fin, no RSV bit, opcode text
	hlen, n := frameHeaderLen(w.rbuf)
	for hlen == 0 { // a header cut short: wait for the rest of it
		if w.rbuf[0] != finText || len(w.rbuf) >= 2 && w.rbuf[1]&0x80 == 0 {
			return nil, false, false, nil // not a masked text frame: no need to wait
		}
		timed := w.armStallFor(w.scan.begun + 1) // the frame has begun
		err := w.more()
		w.disarmStall(timed)
		if err != nil {
			return nil, false, false, w.closedErr(err)
		}
		hlen, n = frameHeaderLen(w.rbuf)
	}
	if w.rbuf[0] != finText || w.rbuf[1]&0x80 == 0 || n > uint64(w.fastMax) {
		return nil, false, false, nil
	}
	key := binary.LittleEndian.Uint32(w.rbuf[hlen-4 : hlen])
	if err := w.scan.header(w.rbuf[:hlen]); err != nil {
		w.err = err // not reached: n is within the limit
		return nil, false, false, err
	}
	w.consume(hlen)
	data = make([]byte, n)
	for got := 0; got < len(data); {
		k, err := w.read(data[got:]) // what is buffered, then the socket (timed)
		w.scan.feed(data[got : got+k])
		got += k
		if err != nil && got < len(data) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, false, w.closedErr(fmt.Errorf("reading a frame's payload: %w", err))
		}
	}
	ascii = unmask(data, key)
	w.fastN.Add(1)
	return data, ascii, true, nil
}

// closedErr is what a failed read reports: net.ErrClosed once the socket
// was closed (by the WebSocket, a timeout, the connection's end), as the
// WebSocket's own reads do, so that the connection reports why it closed
// it rather than the read it cut short.
func (w *Wire) closedErr(err error) error {
	if w.closed.Load() {
		return net.ErrClosed
	}
	return err
}

// more waits for more bytes behind the few that wait in the read buffer
// (the start of a frame header, at most maxHeader-1 bytes): they move to
// the front of the buffer and the socket's next bytes follow them.
func (w *Wire) more() error {
	k := copy(*w.rbox, w.rbuf)
	n, err := w.Conn.Read((*w.rbox)[k:])
	w.rbuf = (*w.rbox)[:k+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading a frame header: %w", err)
}

// frameHeaderLen returns the length of the frame header b begins with and
// the payload length it announces; hlen is 0 while b holds only part of
// the header (b is not empty).
func frameHeaderLen(b []byte) (hlen int, n uint64) {
	if len(b) < 2 {
		return 0, 0
	}
	hlen = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		hlen += 2
	case 127:
		hlen += 8
	default:
		n = uint64(l)
	}
	if b[1]&0x80 != 0 {
		hlen += 4
	}
	if len(b) < hlen {
		return 0, 0
	}
	switch hlen - 4*int(b[1]>>7) {
	case 4:
		n = uint64(binary.BigEndian.Uint16(b[2:4]))
	case 10:
		n = binary.BigEndian.Uint64(b[2:10])
	}
	return hlen, n
}

// unmask XORs b with the masking key (RFC 6455 §5.3), key being the 4 key
// bytes read little-endian (the first key byte is its low byte), eight
// bytes at a time, and reports whether every unmasked byte is ASCII: such
// a text is valid UTF-8 with no second look (the reader's check for a
// text frame, RFC 6455 §8.1).
func unmask(b []byte, key uint32) (ascii bool) {
	k := uint64(key) | uint64(key)<<32
	var or uint64
	for len(b) >= 32 {
		v0 := binary.LittleEndian.Uint64(b) ^ k
		v1 := binary.LittleEndian.Uint64(b[8:]) ^ k
		v2 := binary.LittleEndian.Uint64(b[16:]) ^ k
		v3 := binary.LittleEndian.Uint64(b[24:]) ^ k
		binary.LittleEndian.PutUint64(b, v0)
		binary.LittleEndian.PutUint64(b[8:], v1)
		binary.LittleEndian.PutUint64(b[16:], v2)
		binary.LittleEndian.PutUint64(b[24:], v3)
		or |= v0 | v1 | v2 | v3
		b = b[32:]
	}
	for len(b) >= 8 {
		v := binary.LittleEndian.Uint64(b) ^ k
		binary.LittleEndian.PutUint64(b, v)
		or |= v
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(key >> (8 * (i & 3)))
		or |= uint64(b[i])
	}
	return or&0x8080808080808080 == 0
}
