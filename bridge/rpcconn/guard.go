package rpcconn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// ErrMessageTooBig is returned (wrapped) by reads of a guarded connection
// once a frame header announces a message larger than the limit.
var ErrMessageTooBig = errors.New("message too big")

// GuardFrames wraps w so that the connection a WebSocket upgrade hijacks
// from it refuses a message as soon as a frame header announces more than
// limit bytes for it. coder/websocket's SetReadLimit only refuses once the
// limit has been read, so a header announcing 2^62 bytes would otherwise
// hold the reader until a megabyte of it arrived. Pass the result to
// websocket.Accept; Run closes such a peer with 1009.
func GuardFrames(w http.ResponseWriter, limit int64) http.ResponseWriter {
	return &guardWriter{ResponseWriter: w, limit: limit}
}

type guardWriter struct {
	http.ResponseWriter
	limit int64
	wire  *Wire // the hijacked connection, once hijacked
}

// Hijack hands out the connection with its reads watched, and small
// buffers of its own for the WebSocket: net/http's 4 KiB reader and writer
// stay with its connection, which lets go of them once the handler returns,
// and the Wire lends itself pooled buffers only while data waits (see
// Wire). The bytes the HTTP server had already buffered are read through
// the watch too.
func (g *guardWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(g.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	pre, _ := brw.Reader.Peek(brw.Reader.Buffered())
	g.wire = newWire(conn, bytes.Clone(pre), g.limit)
	// The upgrade's answer is written by now: an extension it names
	// (compression) changes how data frames are made.
	g.wire.extensions = g.Header().Get("Sec-WebSocket-Extensions") != ""
	// The server's own reader is pointed at the wire too, so that nothing
	// reads the socket around it.
	brw.Reader.Reset(g.wire)
	return g.wire, bufio.NewReadWriter(bufio.NewReaderSize(g.wire, smallBuffer), bufio.NewWriterSize(g.wire, smallBuffer)), nil
}

// smallBuffer sizes the WebSocket's own reader and writer: a frame header
// and a whole control frame (at most 2 + 125 bytes from the bridge) fit.
const smallBuffer = 128

// WireOf returns the connection a WebSocket upgrade hijacked from w, a
// ResponseWriter from GuardFrames; nil before the upgrade. Pass it as
// Options.Wire.
func WireOf(w http.ResponseWriter) *Wire {
	if g, ok := w.(*guardWriter); ok {
		return g.wire
	}
	return nil
}

// frameScan follows the frame boundaries of a client's byte stream (RFC
// 6455 §5.2) and sums the payload lengths of each data message.
type frameScan struct {
	limit int64
	hdr   [14]byte
	have  int   // header bytes collected
	need  int   // header bytes this header has (2 until the second byte says)
	skip  int64 // payload bytes left in the current frame
	msg   int64 // payload bytes of the current data message so far
	// inMsg is set between the first frame of a fragmented data message
	// and its last (fin) frame's header.
	inMsg bool
	// begun counts the frames begun between messages (boundary): two
	// reads in the middle of the same message see the same count.
	begun uint32
}

// boundary reports whether the bytes fed so far end between messages: no
// header, frame payload or fragmented message is left unfinished.
func (s *frameScan) boundary() bool { return s.have == 0 && s.skip == 0 && !s.inMsg }

// left is how many bytes of the current frame are still to come as far as
// the scan knows: the rest of its payload, or else of its header (of its
// first two bytes until the second tells the header's length).
func (s *frameScan) left() int64 {
	switch {
	case s.skip > 0:
		return s.skip
	case s.have < 2:
		return int64(2 - s.have)
	}
	return int64(s.need - s.have)
}

func (s *frameScan) feed(b []byte) error {
	for len(b) > 0 {
		if s.skip > 0 {
			k := min(int64(len(b)), s.skip)
			s.skip -= k
			b = b[k:]
			continue
		}
		if s.have == 0 && !s.inMsg {
			s.begun++
		}
		s.hdr[s.have] = b[0]
		s.have++
		b = b[1:]
		if s.have == 2 {
			s.need = 2
			switch s.hdr[1] & 0x7f {
			case 126:
				s.need += 2
			case 127:
				s.need += 8
			}
			if s.hdr[1]&0x80 != 0 {
				s.need += 4
			}
		}
		if s.have < 2 || s.have < s.need {
			continue
		}
		if err := s.frame(); err != nil {
			return err
		}
		s.have, s.need = 0, 2
	}
	return nil
}

// header is feed(h) for a whole frame header h that begins between
// messages (boundary), as nextText has one: the same state and error,
// without going through it a byte at a time.
func (s *frameScan) header(h []byte) error {
	s.begun++
	s.have = copy(s.hdr[:], h)
	s.need = s.have
	if err := s.frame(); err != nil {
		return err
	}
	s.have, s.need = 0, 2
	return nil
}

// frame takes the header just completed.
func (s *frameScan) frame() error {
	var n uint64
	switch l := s.hdr[1] & 0x7f; l {
	case 126:
		n = uint64(s.hdr[2])<<8 | uint64(s.hdr[3])
	case 127:
		for _, c := range s.hdr[2:10] {
			n = n<<8 | uint64(c)
		}
	default:
		n = uint64(l)
	}
	if n > 1<<62 { // RFC 6455: the most significant bit must be 0
		n = 1 << 62
	}
	length := int64(n)
	if opcode := s.hdr[0] & 0x0f; opcode < 8 { // text, binary, continuation
		if s.limit >= 0 && length > s.limit-s.msg {
			return fmt.Errorf("%w: a frame header announces %d bytes, more than the %d bytes a message may have", ErrMessageTooBig, s.msg+length, s.limit)
		}
		s.msg += length
		s.inMsg = s.hdr[0]&0x80 == 0 // not fin: more frames follow
		if !s.inMsg {
			s.msg = 0
		}
	}
	s.skip = length
	return nil
}
