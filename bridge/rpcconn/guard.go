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
}

// Hijack hands out the connection with its reads watched. The bytes the
// HTTP server had already buffered are read through the watch too.
func (g *guardWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(g.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	pre, _ := brw.Reader.Peek(brw.Reader.Buffered())
	gc := &guardConn{Conn: conn, pre: bytes.Clone(pre), scan: frameScan{limit: g.limit, need: 2}}
	// The server's own reader reads through the guard from here (its
	// buffered bytes are in pre): a second 4 KiB reader per connection
	// would stay alive beside it for the connection's life, since the HTTP
	// server's conn keeps the first one until the handler returns.
	brw.Reader.Reset(gc)
	return gc, brw, nil
}

// guardConn scans the frame headers of what it reads.
type guardConn struct {
	net.Conn
	pre  []byte // read before the hijack
	scan frameScan
	err  error // sticky once a frame is refused
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	var n int
	var err error
	if len(g.pre) > 0 {
		n = copy(p, g.pre)
		g.pre = g.pre[n:]
	} else {
		n, err = g.Conn.Read(p)
	}
	if n > 0 {
		if serr := g.scan.feed(p[:n]); serr != nil {
			g.err = serr
			return 0, serr
		}
	}
	return n, err
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
}

func (s *frameScan) feed(b []byte) error {
	for len(b) > 0 {
		if s.skip > 0 {
			k := min(int64(len(b)), s.skip)
			s.skip -= k
			b = b[k:]
			continue
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
		if s.hdr[0]&0x80 != 0 { // fin
			s.msg = 0
		}
	}
	s.skip = length
	return nil
}
