package rpcconn

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/internal/wstest"
)

// readSized reads a message its frame header said has n bytes straight
// into a buffer of that size (the reader's path for one-frame messages
// before Wire.nextText took them): kept for BenchmarkReadMessage, as the
// figure nextText is measured against.
func readSized(r io.Reader, n int) ([]byte, error) {
	data := make([]byte, n)
	k, err := io.ReadFull(r, data)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return data[:k], nil
	case err != nil:
		return data[:k], err
	}
	if _, err := r.Read(nil); err != io.EOF {
		if err != nil {
			return data, err
		}
		rest, err := io.ReadAll(r)
		return append(data, rest...), err
	}
	return data, nil
}

// benchMsg is a createrecord-sized message (330 bytes), the one the
// reader's benchmarks read.
var benchMsg = []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":` + strings.Repeat(" ", 200) + `{"entityName":"contact","value":{"firstname":"Aino"}}}`)

// replayConn is a net.Conn whose reads replay the same client frames
// forever (in whatever sizes the reader asks for) and whose writes go
// nowhere: the reader's own cost, without the socket's.
type replayConn struct {
	net.Conn
	data []byte
	off  int
}

func (c *replayConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}

func (c *replayConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *replayConn) Close() error                { return nil }

// replayPeer accepts a WebSocket (its Wire in fast mode) on a replayConn
// that sends msg, masked, over and over.
func replayPeer(b *testing.B, msg []byte) (*websocket.Conn, *Wire) {
	frame := []byte{0x81, 0x80 | 126, byte(len(msg) >> 8), byte(len(msg)), 0x37, 0xfa, 0x21, 0x3d}
	p := bytes.Clone(msg)
	unmaskBytes(p, [4]byte{0x37, 0xfa, 0x21, 0x3d})
	frame = append(frame, p...)
	var data []byte
	for range 64 {
		data = append(data, frame...)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	gw := GuardFrames(&hijacker{h: http.Header{}, conn: &replayConn{data: data}}, 1<<20)
	ws, err := websocket.Accept(gw, req, nil)
	if err != nil {
		b.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	w := WireOf(gw)
	w.setFast()
	b.Cleanup(func() { ws.CloseNow() })
	return ws, w
}

// BenchmarkReadMessage reads createrecord-sized messages (330 bytes) that
// a client streams over loopback, as the reader does: straight into a
// buffer of the size the header announced (sized), or into a pooled
// buffer and then a copy (pooled, the path for messages of unknown size).
func BenchmarkReadMessage(b *testing.B) {
	for _, bc := range []struct {
		name string
		read func(r io.Reader, n int) ([]byte, error)
	}{
		{"sized", readSized},
		{"pooled", func(r io.Reader, _ int) ([]byte, error) { return readPooled(r) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			msg := benchMsg
			ws, peer := wstest.Pair(b, func(w http.ResponseWriter) http.ResponseWriter { return GuardFrames(w, 1<<20) })
			go func() {
				for {
					if peer.Write(context.Background(), websocket.MessageText, msg) != nil {
						return
					}
				}
			}()
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := ws.Reader(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				data, err := bc.read(r, len(msg))
				if err != nil || len(data) != len(msg) {
					b.Fatalf("read %d bytes, %v", len(data), err)
				}
			}
		})
	}
}

// BenchmarkReadFast is the CPU the reader spends on one createrecord-sized
// message, without the socket (a replayConn): taken by the Wire itself
// (fast, Wire.nextText), or through coder/websocket's Reader into a pooled
// buffer and a copy (websocket: the path for what nextText leaves, and
// the whole path before it, then with readSized: sized). The Wire lends
// its 4 KiB read buffer as on a TLS socket.
func BenchmarkReadFast(b *testing.B) {
	b.Run("fast", func(b *testing.B) {
		_, w := replayPeer(b, benchMsg)
		b.ReportAllocs()
		for b.Loop() {
			data, _, ok, err := w.nextText()
			if err != nil || !ok || len(data) != len(benchMsg) {
				b.Fatalf("read %d bytes, %v, %v", len(data), ok, err)
			}
		}
	})
	for _, bc := range []struct {
		name string
		fast bool
		read func(r io.Reader) ([]byte, error)
	}{
		{"websocket", true, readPooled},
		{"sized", false, func(r io.Reader) ([]byte, error) { return readSized(r, len(benchMsg)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ws, w := replayPeer(b, benchMsg)
			w.fast = bc.fast // before nextText: the WebSocket read ahead
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := ws.Reader(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				data, err := bc.read(r)
				if err != nil || len(data) != len(benchMsg) {
					b.Fatalf("read %d bytes, %v", len(data), err)
				}
			}
		})
	}
}
