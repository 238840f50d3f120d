package rpcconn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"
)

// unmaskBytes is RFC 6455 §5.3 as written: byte i is XORed with key byte
// i mod 4.
func unmaskBytes(b []byte, key [4]byte) {
	for i := range b {
		b[i] ^= key[i%4]
	}
}

// TestUnmask: the word-at-a-time unmask equals the byte-at-a-time one for
// every length around its 32- and 8-byte steps, at every alignment of the
// slice, for random keys, and tells an ASCII text (half of them, some
// with one byte of any value put back at any place) from any other.
func TestUnmask(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for range 20 {
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], r.Uint32())
		for off := range 8 {
			for n := 0; off+n <= len(buf); n++ {
				// Half the texts ASCII once unmasked, but for at most
				// one byte of any value (ascii must see every byte).
				plain := r.IntN(2) == 0
				for i := range buf {
					buf[i] = byte(r.Uint32())
					if plain {
						buf[i] = (buf[i] & 0x7f) ^ key[(i-off)&3]
					}
				}
				if plain && n > 0 && r.IntN(2) == 0 {
					buf[off+r.IntN(n)] = byte(r.Uint32())
				}
				want := bytes.Clone(buf)
				unmaskBytes(want[off:off+n], key)
				got := bytes.Clone(buf)
				ascii := unmask(got[off:off+n], binary.LittleEndian.Uint32(key[:]))
				if !bytes.Equal(got, want) {
					t.Fatalf("key % x, offset %d, length %d:\n got % x\nwant % x", key, off, n, got, want)
				}
				if wantASCII := isASCII(want[off : off+n]); ascii != wantASCII {
					t.Fatalf("key % x, offset %d, length %d: ascii %v, want %v (% x)", key, off, n, ascii, wantASCII, want[off:off+n])
				}
			}
		}
	}
}

// isASCII reports whether every byte of b is below 0x80.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// TestFrameHeaderLen: the header's length and the payload length it
// announces, for the three length encodings, masked or not; 0 while the
// header is incomplete.
func TestFrameHeaderLen(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		hlen int
		n    uint64
	}{
		{[]byte{0x81}, 0, 0},
		{[]byte{0x81, 0x85, 1, 2, 3}, 0, 0},
		{[]byte{0x81, 0x85, 1, 2, 3, 4}, 6, 5},
		{[]byte{0x81, 0x05}, 2, 5},
		{[]byte{0x81, 0xfe, 0x01}, 0, 0},
		{[]byte{0x81, 0xfe, 0x01, 0x02, 1, 2, 3, 4, 'x'}, 8, 258},
		{[]byte{0x81, 0x7e, 0x01, 0x02}, 4, 258},
		{[]byte{0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3}, 0, 0},
		{[]byte{0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, 14, 65536},
		{[]byte{0x81, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0}, 10, 1 << 62},
	} {
		if hlen, n := frameHeaderLen(tt.b); hlen != tt.hlen || n != tt.n {
			t.Errorf("frameHeaderLen(% x) = %d, %d; want %d, %d", tt.b, hlen, n, tt.hlen, tt.n)
		}
	}
}

// hijacker is an http.ResponseWriter whose Hijack hands out conn: a
// WebSocket accepted on it reads and writes conn (the peer never sees the
// 101, which it does not wait for).
type hijacker struct {
	h    http.Header
	conn net.Conn
}

func (h *hijacker) Header() http.Header         { return h.h }
func (h *hijacker) Write(b []byte) (int, error) { return len(b), nil }
func (h *hijacker) WriteHeader(int)             {}
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// readAll accepts a WebSocket on a loopback socket, writes stream to it
// from the client side in pieces of step bytes, and reads messages with
// Conn.read until it fails: with fast, as the connection does; without,
// through coder/websocket alone, to which the Wire in fast mode hands one
// frame at a time (with more, coder/websocket's reader would read ahead,
// and the Wire refuse a too-big frame header behind a frame coder/websocket
// refuses, depending on how the bytes arrived). It returns
// the messages read, what ended the reading, and every byte the server
// sent back (pongs, a close frame).
func readAll(t *testing.T, stream []byte, step int, limit int64, fast bool) (msgs []string, end string, back []byte) {
	server, client := socketPair(t)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	gw := GuardFrames(&hijacker{h: http.Header{}, conn: server}, limit)
	ws, err := websocket.Accept(gw, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(limit)
	w := WireOf(gw)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := New(ctx, ws, nil, Options{Wire: w, PingInterval: -1})
	read := c.read
	if !fast {
		read = func() (websocket.MessageType, []byte, bool, error) {
			typ, r, err := ws.Reader(context.Background())
			if err != nil {
				return 0, nil, false, err
			}
			data, err := readPooled(r)
			return typ, data, false, err
		}
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	go func() {
		for i := 0; i < len(stream); i += step {
			if _, err := client.Write(stream[i:min(i+step, len(stream))]); err != nil {
				return
			}
		}
		client.(interface{ CloseWrite() error }).CloseWrite()
	}()
	for {
		typ, data, ascii, err := read()
		if err != nil {
			end = errKind(err)
			break
		}
		if ascii && !isASCII(data) {
			t.Fatalf("read says %q is ASCII", data)
		}
		msgs = append(msgs, fmt.Sprintf("%v %q", typ, data))
	}
	c.closeNow()
	back = <-got
	cancel()
	c.writerWG.Wait()
	return msgs, end, back
}

// errKind names what ended a read, as far as both readers must agree: the
// error texts differ (coder/websocket's own, the fast path's).
func errKind(err error) string {
	switch {
	case errors.Is(err, ErrMessageTooBig):
		return "too big"
	case websocket.CloseStatus(err) != -1:
		return fmt.Sprintf("close %d", websocket.CloseStatus(err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	return "failed"
}

// fuzzFrames turns fuzz bytes into a stream of client frames, mostly well
// formed so that the readers get far: per frame, a kind byte picks the
// opcode (text most often), fin, an RSV bit, masking, the length's
// encoding; a length byte and the payload follow from the input.
func fuzzFrames(in []byte) []byte {
	var out []byte
	next := func() byte {
		if len(in) == 0 {
			return 0
		}
		b := in[0]
		in = in[1:]
		return b
	}
	for len(in) > 0 {
		kind := next()
		op := [...]byte{1, 1, 1, 1, 2, 0, 9, 10, 8, 3, 1, 0}[int(kind&0x0f)%12]
		b0 := op
		if kind&0x10 == 0 || op >= 8 {
			b0 |= 0x80 // fin (control frames nearly always)
		}
		if kind&0xe0 == 0xe0 {
			b0 |= 0x40 // RSV1
		}
		n := int(next())
		if op == 1 && kind&0x20 != 0 {
			n *= 7 // sometimes past 126, or past the limit
		}
		if op == 8 && n == 1 {
			n = 0
		}
		if op == 8 && n > 0 {
			n = min(n, 20)
		}
		p := make([]byte, n)
		for i := range p {
			p[i] = next()
		}
		if op == 8 && n >= 2 {
			binary.BigEndian.PutUint16(p, 1000+uint16(p[0]%4)) // a valid code
		}
		masked := kind != 0x5f // rarely unmasked
		mb := byte(0)
		if masked {
			mb = 0x80
		}
		out = append(out, b0)
		switch {
		case n < 126 && kind&0x40 == 0:
			out = append(out, mb|byte(n))
		case n <= 0xffff && kind&0x80 == 0:
			out = append(out, mb|126, byte(n>>8), byte(n))
		default:
			out = append(out, mb|127)
			out = binary.BigEndian.AppendUint64(out, uint64(n))
		}
		if masked {
			key := [4]byte{kind, byte(n), 0x5a, 0xc3}
			out = append(out, key[:]...)
			unmaskBytes(p, key)
		}
		out = append(out, p...)
	}
	return out
}

// FuzzFastPath: for any frame sequence, cut into any sizes of TCP write,
// the reader with its fast path returns exactly the messages coder/websocket
// alone returns, ends for the same reason, and the server sends back the
// same bytes (pongs, close frames).
func FuzzFastPath(f *testing.F) {
	f.Add([]byte{0x00, 5, 'h', 'e', 'l', 'l', 'o', 0x06, 2, 'p', 'i', 0x01, 3, 'a', 'b', 'c'}, uint8(200))
	f.Add([]byte{0x00, 5, 'h', 'e', 'l', 'l', 'o', 0x06, 2, 'p', 'i', 0x01, 3, 'a', 'b', 'c'}, uint8(0))
	f.Add([]byte{0x10, 3, 'a', 'b', 'c', 0x05, 2, 'd', 'e', 0x07, 0, 0x00, 1, 'x'}, uint8(1))
	f.Add([]byte{0x10, 3, 'a', 'b', 'c', 0x05, 2, 'd', 'e', 0x07, 0, 0x00, 1, 'x'}, uint8(255))
	f.Add([]byte{0x20, 200, 1, 2, 3, 0x00, 2, 0xff, 0xfe, 0x08, 4, 3, 0xe8, 'b', 'y'}, uint8(3))
	f.Add([]byte{0x04, 3, 1, 2, 3, 0x5f, 2, 'n', 'o', 0xe0, 1, 'r'}, uint8(13))
	f.Add([]byte{0x40, 100, 'a', 0x80, 1, 'b', 0x00, 1, 'c'}, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		if len(in) > 4096 {
			return
		}
		stream := fuzzFrames(in)
		step := int(cut)%40 + 1
		if cut >= 128 {
			step = len(stream) + 1 // one write
		}
		const limit = 1000
		wantMsgs, wantEnd, wantBack := readAll(t, stream, step, limit, false)
		gotMsgs, gotEnd, gotBack := readAll(t, stream, step, limit, true)
		if fmt.Sprint(gotMsgs) != fmt.Sprint(wantMsgs) || gotEnd != wantEnd {
			t.Fatalf("stream % x in writes of %d:\nfast path: %d messages %v, ended %s\n websocket: %d messages %v, ended %s",
				stream, step, len(gotMsgs), gotMsgs, gotEnd, len(wantMsgs), wantMsgs, wantEnd)
		}
		if !bytes.Equal(gotBack, wantBack) {
			t.Fatalf("stream % x: the server sent back\n% x with the fast path,\n% x without", stream, gotBack, wantBack)
		}
	})
}
