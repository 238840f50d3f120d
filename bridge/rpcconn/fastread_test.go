package rpcconn_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/internal/pipenet"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// The tests of the reader's fast path (Wire.nextText): a raw client
// writes hand-built frames, masked with a key that changes every byte,
// and the server's answers, pongs and close frames are read back in order.

// fastKey masks the frames of these tests: an unmask that went wrong
// shows (a zero key would hide it).
var fastKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// masked is a client frame with first byte b0 and payload p, masked with
// fastKey.
func masked(b0 byte, p string) []byte { return maskedWith(fastKey, b0, p) }

const (
	finText   = 0x81
	finBinary = 0x82
	finClose  = 0x88
	finPing   = 0x89
	finPong   = 0x8a
)

// echo is an echo call with id and params [id].
func echo(id int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo","params":[%d]}`, id, id)
}

// frames concatenates frames into one write.
func frames(fs ...[]byte) []byte {
	var b []byte
	for _, f := range fs {
		b = append(b, f...)
	}
	return b
}

// fastServer runs rpcconn over a server on l (loopback TCP or pipenet)
// and hands out each connection's Wire, to count what the fast path took.
type fastServer struct {
	wires chan *rpcconn.Wire
	conns chan *rpcconn.Conn
	errs  chan error
}

func (s *fastServer) handler(opts rpcconn.Options, limit int64) http.Handler {
	// Inline: every answer is written in the order its call came.
	opts.Inline = func(*protocol.Message) bool { return true }
	return serveRPC(&testHandler{blocked: make(chan struct{}, 4)}, opts, limit, func(c *rpcconn.Conn, w *rpcconn.Wire) {
		s.wires <- w
		s.conns <- c
	}, s.errs)
}

func newFastServer() *fastServer {
	return &fastServer{wires: make(chan *rpcconn.Wire, 4), conns: make(chan *rpcconn.Conn, 4), errs: make(chan error, 4)}
}

// startFastTCP serves on loopback TCP and dials one raw client.
func startFastTCP(t *testing.T, opts rpcconn.Options, limit int64) (*fastServer, net.Conn, *bufio.Reader, *rpcconn.Wire) {
	t.Helper()
	s := newFastServer()
	hs := httptest.NewServer(s.handler(opts, limit))
	t.Cleanup(hs.Close)
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	br := rawHandshake(t, conn)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang fails, not blocks
	return s, conn, br, <-s.wires
}

// startFastPipe serves over pipenet inside a synctest bubble (each client
// write reaches the server as a read of its own) and dials one raw client.
func startFastPipe(t *testing.T, opts rpcconn.Options) (*fastServer, net.Conn, *bufio.Reader, *rpcconn.Wire) {
	t.Helper()
	s := newFastServer()
	var ln *pipenet.Listener
	ln, _ = testutil.ServePipe(t, s.handler(opts, 1<<20))
	conn, _ := ln.Dial(t.Context(), "", "")
	t.Cleanup(func() { conn.Close() })
	br := rawHandshake(t, conn)
	return s, conn, br, <-s.wires
}

// serverFrame reads one frame the server sent: its first byte and payload.
func serverFrame(br *bufio.Reader) (byte, string, error) {
	b0, p, err := readServerFrame(br)
	return b0, string(p), err
}

// expectFrames reads len(want) server frames and checks each: "a<N>" is
// the answer to echo(N), "pong <p>" a pong, "close <code>" a close frame.
func expectFrames(t *testing.T, br *bufio.Reader, want ...string) {
	t.Helper()
	for i, w := range want {
		b0, p, err := serverFrame(br)
		if err != nil {
			t.Fatalf("frame %d: %v, want %s", i+1, err, w)
		}
		var got string
		switch b0 {
		case finText:
			var m struct {
				ID     int               `json:"id"`
				Result []json.RawMessage `json:"result"`
			}
			if json.Unmarshal([]byte(p), &m) != nil || len(m.Result) == 0 || string(m.Result[0]) != fmt.Sprint(m.ID) {
				got = "text " + p
			} else {
				got = fmt.Sprintf("a%d", m.ID)
			}
		case finPong:
			got = "pong " + p
		case finClose:
			got = fmt.Sprintf("close %d", binary.BigEndian.Uint16([]byte(p)))
		default:
			got = fmt.Sprintf("frame %#x %q", b0, p)
		}
		if got != w {
			t.Fatalf("frame %d: %s, want %s", i+1, got, w)
		}
	}
}

// wantFast checks how many messages the fast path took.
func wantFast(t *testing.T, w *rpcconn.Wire, n int64) {
	t.Helper()
	if got := w.FastReads(); got != n {
		t.Errorf("the fast path took %d messages, want %d", got, n)
	}
}

// TestFastPathControlFramesBetween: pings and pongs between fast-path
// messages reach coder/websocket, which answers the ping (in order with
// the answers) and reads the message right behind each control frame
// itself; the fast path takes the others.
func TestFastPathControlFramesBetween(t *testing.T) {
	s, conn, br, w := startFastTCP(t, rpcconn.Options{PingInterval: -1}, 1<<20)
	conn.Write(frames(
		masked(finText, echo(1)), masked(finText, echo(2)),
		masked(finPing, "p1"),
		masked(finText, echo(3)), masked(finText, echo(4)),
		masked(finPong, "unasked"),
		masked(finText, echo(5)), masked(finText, echo(6)),
	))
	expectFrames(t, br, "a1", "a2", "pong p1", "a3", "a4", "a5", "a6")
	wantFast(t, w, 4) // 1, 2, 4, 6
	conn.Write(masked(finClose, "\x03\xe8"))
	expectFrames(t, br, "close 1000")
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestFastPathFragmentedBetween: a fragmented message (with a ping among
// its frames) after fast-path messages is read by coder/websocket, whole;
// the fast path takes the messages after it.
func TestFastPathFragmentedBetween(t *testing.T) {
	s, conn, br, w := startFastTCP(t, rpcconn.Options{PingInterval: -1}, 1<<20)
	conn.Write(frames(
		masked(finText, echo(1)), masked(finText, echo(2)),
		masked(0x01, `{"jsonrpc":"2.0",`), // text, not fin
		masked(finPing, "mid"),
		masked(0x00, `"id":9,"method":"echo",`), // continuation
		masked(0x80, `"params":[9]}`),           // continuation, fin
		masked(finText, echo(3)), masked(finText, echo(4)),
	))
	expectFrames(t, br, "a1", "a2", "pong mid", "a9", "a3", "a4")
	wantFast(t, w, 4)
	conn.Close()
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestFastPathPeerClose: a close frame after fast-path messages is
// answered in kind once their answers are out, and Run ends cleanly.
func TestFastPathPeerClose(t *testing.T) {
	s, conn, br, w := startFastTCP(t, rpcconn.Options{PingInterval: -1}, 1<<20)
	conn.Write(frames(masked(finText, echo(1)), masked(finText, echo(2)), masked(finClose, "\x03\xe9bye")))
	expectFrames(t, br, "a1", "a2", "close 1001")
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v", err)
	}
	wantFast(t, w, 2)
}

// TestFastPathByteByByte: messages whose every byte is a TCP write of its
// own (header included) are taken by the fast path, whole and unmasked.
func TestFastPathByteByByte(t *testing.T) {
	s, conn, br, w := startFastTCP(t, rpcconn.Options{PingInterval: -1}, 1<<20)
	long := `{"jsonrpc":"2.0","id":2,"method":"echo","params":[2,"` + strings.Repeat("x", 300) + `"]}`
	for _, f := range [][]byte{masked(finText, echo(1)), masked(finText, long)} {
		for i := range f {
			if _, err := conn.Write(f[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	expectFrames(t, br, "a1", "a2")
	wantFast(t, w, 2)
	conn.Close()
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestFastPathByteByByteReads: over a pipe every byte is a read of its own
// for the server, so the fast path waits for a header's every byte and
// then for the payload's, the stall timer armed and disarmed each time; a
// message trickled 100 ms a byte (6 s in all, under the 30 s ReadTimeout)
// is answered, not closed as stalled.
func TestFastPathByteByByteReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, conn, br, w := startFastPipe(t, rpcconn.Options{PingInterval: -1, ReadTimeout: 30 * time.Second})
		go func() {
			for _, f := range [][]byte{masked(finText, echo(1)), masked(finText, echo(2))} {
				for i := range f {
					if _, err := conn.Write(f[i : i+1]); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			conn.Write(masked(finText, echo(3)))
		}()
		expectFrames(t, br, "a1", "a2", "a3")
		wantFast(t, w, 3)
		conn.Close()
		if err := <-s.errs; err != nil {
			t.Fatalf("Run = %v", err)
		}
	})
}

// TestFastPathSizes: a message above the fast path's 16 KiB is read by
// coder/websocket (into a buffer that grows with what arrives); one whose
// header announces more than the limit is refused with 1009 at once.
func TestFastPathSizes(t *testing.T) {
	const limit = 64 << 10
	s, conn, br, w := startFastTCP(t, rpcconn.Options{PingInterval: -1}, limit)
	big := `{"jsonrpc":"2.0","id":7,"method":"echo","params":[7,"` + strings.Repeat("y", 20<<10) + `"]}`
	conn.Write(frames(masked(finText, echo(1)), masked(finText, big), masked(finText, echo(2))))
	expectFrames(t, br, "a1", "a7", "a2")
	wantFast(t, w, 2)
	conn.Write(frameHeader(1, true, limit+1)) // no payload follows
	expectFrames(t, br, "close 1009")
	if err := <-s.errs; !errors.Is(err, rpcconn.ErrMessageTooBig) {
		t.Fatalf("Run = %v, want ErrMessageTooBig", err)
	}
}

// TestFastPathRefusals: after a fast-path message, each frame the
// connection must refuse is refused as before: binary (1003), invalid
// UTF-8 in a text frame the fast path took (1007), an RSV bit (1002), an
// unmasked client frame (the connection ends).
func TestFastPathRefusals(t *testing.T) {
	for _, tt := range []struct {
		name  string
		frame []byte
		close string // the close frame's code, "" when none is sent
		fast  int64
		err   string // in Run's error
	}{
		{"binary", masked(finBinary, echo(2)), "close 1003", 1, "binary"},
		{"invalid UTF-8", masked(finText, "{\"a\":\"\xff\xfe\"}"), "close 1007", 2, "UTF-8"},
		{"RSV1", masked(finText|0x40, echo(2)), "close 1002", 1, "rsv"},
		{"unmasked", append([]byte{finText, byte(len(echo(2)))}, echo(2)...), "", 1, "unmasked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, conn, br, w := startFastTCP(t, rpcconn.Options{PingInterval: -1}, 1<<20)
			conn.Write(frames(masked(finText, echo(1)), tt.frame))
			expectFrames(t, br, "a1")
			if tt.close != "" {
				expectFrames(t, br, tt.close)
				conn.Write(masked(finClose, "")) // the handshake ends at once
			} else if b0, p, err := serverFrame(br); err == nil {
				t.Fatalf("got frame %#x %q, want the connection to end", b0, p)
			}
			err := <-s.errs
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Run = %v, want an error about %q", err, tt.err)
			}
			wantFast(t, w, tt.fast)
		})
	}
}

// TestFastPathKeepalivePongs: while the reader waits in the fast path, the
// peer's pongs still reach coder/websocket's Ping: a peer that answers
// every ping and sends nothing else is never closed as idle.
func TestFastPathKeepalivePongs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, conn, br, w := startFastPipe(t, rpcconn.Options{PingInterval: 10 * time.Second, IdleTimeout: 20 * time.Second})
		conn.Write(masked(finText, echo(1)))
		expectFrames(t, br, "a1")
		start := time.Now()
		for range 6 {
			b0, p, err := serverFrame(br)
			if err != nil || b0 != finPing {
				t.Fatalf("got %#x %q, %v; want a ping", b0, p, err)
			}
			conn.Write(masked(finPong, p))
		}
		if waited := time.Since(start); waited < 60*time.Second {
			t.Errorf("6 pings in %v, want one per 10 s", waited)
		}
		conn.Write(masked(finText, echo(2)))
		expectFrames(t, br, "a2")
		select {
		case err := <-s.errs:
			t.Fatalf("Run ended: %v", err)
		default:
		}
		wantFast(t, w, 1) // message 2 came behind a pong: coder/websocket read it
		conn.Close()
		<-s.errs
	})
}

// TestFastPathServerClose: the bridge's own close, while the reader waits
// in the fast path: the close frame goes out, the peer's reply is read
// (by the close handshake or the reader, whichever holds the socket) and
// the connection ends at once, not when the handshake's 5 s run out.
func TestFastPathServerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, conn, br, w := startFastPipe(t, rpcconn.Options{PingInterval: -1})
		conn.Write(masked(finText, echo(1)))
		expectFrames(t, br, "a1")
		c := <-s.conns
		synctest.Wait() // the reader waits for the next frame
		start := time.Now()
		c.Close(websocket.StatusGoingAway, "bye")
		expectFrames(t, br, "close 1001")
		conn.Write(masked(finClose, "\x03\xe9"))
		if err := <-s.errs; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if waited := time.Since(start); waited >= 5*time.Second {
			t.Errorf("the close took %v: the peer's close frame was not read", waited)
		}
		wantFast(t, w, 1)
	})
}
