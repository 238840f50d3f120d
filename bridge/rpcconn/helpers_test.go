package rpcconn_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/internal/pipenet"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// The helpers the black-box tests share: a JSON-RPC server over
// httptest (startServer, serveRPC), a raw client that handshakes and
// writes frames by hand (dialRaw, maskedWith, frameHeader) and reads the
// server's (readServerFrame, readTextFrame, readCloseFrame), a server on an
// in-memory pipe (startPipeServer) and one serving calls inline
// (startInlineServer).

// testHandler answers "echo" with its params, "big" with a string of
// params.n bytes, "block" only when its ctx ends; it counts notifications.
type testHandler struct {
	notified atomic.Int64
	running  atomic.Int64
	maxSeen  atomic.Int64
	blocked  chan struct{} // one value per "block" call that started
	echoed   chan struct{} // one value per "echo" call, when it returns (if not nil)
}

func (h *testHandler) HandleCall(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) (json.RawMessage, error) {
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for {
		old := h.maxSeen.Load()
		if n <= old || h.maxSeen.CompareAndSwap(old, n) {
			break
		}
	}
	switch m.Method {
	case "echo":
		if h.echoed != nil {
			defer func() { h.echoed <- struct{}{} }()
		}
		if len(m.Params) == 0 {
			return json.RawMessage("null"), nil
		}
		return m.Params, nil
	case "big":
		var p struct{ N int }
		json.Unmarshal(m.Params, &p)
		return json.Marshal(strings.Repeat("x", p.N))
	case "block":
		h.blocked <- struct{}{}
		<-ctx.Done()
		return nil, context.Cause(ctx)
	}
	return nil, protocol.Errorf(protocol.CodeMethodNotFound, "no %s", m.Method)
}

func (h *testHandler) HandleNotification(ctx context.Context, c *rpcconn.Conn, m *protocol.Message) {
	h.notified.Add(1)
}

// server runs one rpcconn.Conn per WebSocket on a loopback httptest server.
type server struct {
	hs    *httptest.Server
	h     *testHandler
	conns chan *rpcconn.Conn
	errs  chan error // what each Run returned
}

func startServer(t testing.TB, opts rpcconn.Options, limit int64) *server {
	t.Helper()
	s := &server{h: &testHandler{blocked: make(chan struct{}, 16)}, conns: make(chan *rpcconn.Conn, 16), errs: make(chan error, 16)}
	s.hs = httptest.NewServer(serveRPC(s.h, opts, limit, func(c *rpcconn.Conn, _ *rpcconn.Wire) { s.conns <- c }, s.errs))
	t.Cleanup(s.hs.Close)
	return s
}

// serveRPC runs one rpcconn.Conn on h per WebSocket, as the bridge does:
// upgraded behind GuardFrames(limit), messages of up to limit bytes, answers
// written through the guard's Wire. started, if not nil, is given each Conn
// and its Wire before it runs; errs gets what each Run returned.
func serveRPC(h rpcconn.Handler, opts rpcconn.Options, limit int64, started func(*rpcconn.Conn, *rpcconn.Wire), errs chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw := rpcconn.GuardFrames(w, limit)
		ws, err := websocket.Accept(gw, r, nil)
		if err != nil {
			return
		}
		ws.SetReadLimit(limit)
		opts := opts
		opts.Wire = rpcconn.WireOf(gw)
		c := rpcconn.New(context.Background(), ws, h, opts)
		if started != nil {
			started(c, opts.Wire)
		}
		errs <- c.Run()
	})
}

// wsURL is the ws:// URL of hs.
func wsURL(hs *httptest.Server) string { return "ws" + strings.TrimPrefix(hs.URL, "http") }

func (s *server) url() string { return wsURL(s.hs) }

func (s *server) dial(t *testing.T) (*websocket.Conn, *rpcconn.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.url(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return ws, <-s.conns
}

func write(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func read(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// maskedWith is a client frame with first byte b0 and payload p, masked
// with key.
func maskedWith(key [4]byte, b0 byte, p string) []byte {
	h := []byte{b0}
	switch n := len(p); {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n <= 0xffff:
		h = append(h, 0x80|126, byte(n>>8), byte(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	h = append(h, key[:]...)
	for i := range len(p) {
		h = append(h, p[i]^key[i%4])
	}
	return h
}

// dialRaw dials the server of hs over TCP and upgrades by hand
// (rawHandshake); the connection closes when the test ends.
func dialRaw(t *testing.T, hs *httptest.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, rawHandshake(t, conn)
}

// rawHandshake upgrades conn by hand, so a test can then send frames no
// WebSocket library would (a stalled half frame, a 2^62-byte header).
func rawHandshake(t *testing.T, conn net.Conn) *bufio.Reader {
	t.Helper()
	req := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return br
}

// frameHeader is a masked client frame header announcing n payload bytes.
func frameHeader(opcode byte, fin bool, n uint64) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	h := []byte{b0, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, n)
	return append(h, 0, 0, 0, 0) // zero mask: the payload goes as is
}

// readServerFrame reads one frame the server sent (unmasked, as a
// server's are): its first byte (fin, RSV, opcode) and its payload.
func readServerFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return h[0], p, err
}

// readCloseFrame reads server frames until a close frame and returns its code.
func readCloseFrame(br *bufio.Reader) (websocket.StatusCode, string, error) {
	for {
		b0, p, err := readServerFrame(br)
		if err != nil {
			return 0, "", err
		}
		if b0&0x0f == 8 && len(p) >= 2 {
			return websocket.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:]), nil
		}
	}
}

// pipeServer serves rpcconn over in-memory pipes inside a synctest bubble,
// where the 30 s timeouts pass at once and exactly.
type pipeServer struct {
	ln    *pipenet.Listener
	errs  chan error
	conns chan *rpcconn.Conn // each connection, as it starts (when there is room)
}

func startPipeServer(t *testing.T, opts rpcconn.Options) *pipeServer {
	ps := &pipeServer{errs: make(chan error, 4), conns: make(chan *rpcconn.Conn, 4)}
	h := &testHandler{blocked: make(chan struct{}, 4)}
	ps.ln, _ = testutil.ServePipe(t, serveRPC(h, opts, 1<<20, func(c *rpcconn.Conn, _ *rpcconn.Wire) {
		select {
		case ps.conns <- c:
		default:
		}
	}, ps.errs))
	return ps
}

// readTextFrame reads one unfragmented server frame and returns its payload.
func readTextFrame(br *bufio.Reader) ([]byte, error) {
	_, p, err := readServerFrame(br)
	return p, err
}

// countingHandler answers "pad" with its params and a string of
// params.n bytes, and counts the calls it served; served gets a value
// when the count reaches at.
type countingHandler struct {
	n      atomic.Int64
	at     int64
	served chan struct{}
}

func (h *countingHandler) HandleCall(_ context.Context, _ *rpcconn.Conn, m *protocol.Message) (json.RawMessage, error) {
	var p struct {
		I int `json:"i"`
		N int `json:"n"`
	}
	json.Unmarshal(m.Params, &p)
	if h.n.Add(1) == h.at {
		close(h.served)
	}
	return json.Marshal(struct {
		I   int    `json:"i"`
		Pad string `json:"pad"`
	}{p.I, strings.Repeat("x", p.N)})
}

func (*countingHandler) HandleNotification(context.Context, *rpcconn.Conn, *protocol.Message) {}

// inlineServer serves rpcconn with every request inline (on the reader),
// over loopback TCP whose server socket has a small send buffer, so that
// the socket fills after a few answers and writes are partial.
type inlineServer struct {
	hs    *httptest.Server
	h     *countingHandler
	wires chan *rpcconn.Wire
	conns chan *rpcconn.Conn
	errs  chan error
}

func startInlineServer(t *testing.T, opts rpcconn.Options, servedAt int64) *inlineServer {
	t.Helper()
	s := &inlineServer{h: &countingHandler{at: servedAt, served: make(chan struct{})}, wires: make(chan *rpcconn.Wire, 1), conns: make(chan *rpcconn.Conn, 1), errs: make(chan error, 1)}
	opts.Inline = func(*protocol.Message) bool { return true }
	if opts.PingInterval == 0 {
		opts.PingInterval = -1
	}
	s.hs = httptest.NewServer(serveRPC(s.h, opts, 1<<20, func(c *rpcconn.Conn, wire *rpcconn.Wire) {
		if tc, ok := wire.Conn.(*net.TCPConn); ok {
			tc.SetWriteBuffer(4096)
		}
		s.wires <- wire
		s.conns <- c
	}, s.errs))
	t.Cleanup(s.hs.Close)
	return s
}

// pipeline sends n "pad" calls of pad bytes each from a goroutine (the
// peer's writes must not wait for the server) and never reads.
func (s *inlineServer) pipeline(t *testing.T, n, pad int) (*websocket.Conn, *rpcconn.Wire) {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), wsURL(s.hs), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	go func() {
		for i := range n {
			msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"pad","params":{"i":%d,"n":%d}}`, i, i, pad)
			if ws.Write(context.Background(), websocket.MessageText, []byte(msg)) != nil {
				return
			}
		}
	}()
	return ws, <-s.wires
}

// waitServed waits until the server served its servedAt-th call: with a
// reader blocked in a write to a peer that does not read, it never would.
func (s *inlineServer) waitServed(t *testing.T) {
	t.Helper()
	select {
	case <-s.h.served:
	case err := <-s.errs:
		t.Fatalf("Run returned %v after %d calls served, before %d: the reader stopped reading", err, s.h.n.Load(), s.h.at)
	case <-time.After(30 * time.Second): // a hang guard, not a timing
		t.Fatalf("%d calls served of %d: the reader stopped reading", s.h.n.Load(), s.h.at)
	}
}

// readPadAnswer reads the next answer from ws and fails unless it is
// countingHandler's answer to "pad" call i: id i, result.i i and pad bytes
// of padding (another id, or a cut pad, is an answer out of order or cut).
func readPadAnswer(t *testing.T, ws *websocket.Conn, i, pad int) {
	t.Helper()
	_, b, err := ws.Read(t.Context())
	if err != nil {
		t.Fatalf("answer %d: %v", i, err)
	}
	var got struct {
		ID     int `json:"id"`
		Result struct {
			I   int    `json:"i"`
			Pad string `json:"pad"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("answer %d (%d bytes) is not JSON: %v in %.80q", i, len(b), err, b)
	}
	if got.ID != i || got.Result.I != i || len(got.Result.Pad) != pad {
		t.Fatalf("answer %d: id %d, i %d, pad %d bytes; want %d, %d, %d: out of order or cut", i, got.ID, got.Result.I, len(got.Result.Pad), i, i, pad)
	}
}
