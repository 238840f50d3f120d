package rpcconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// writeCounter is a net.Conn that records its writes.
type writeCounter struct {
	net.Conn
	writes [][]byte
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

// TestWireBatchesWhileCorked: between cork and uncork the writes are
// gathered into one, bounded by maxBatch; otherwise each goes out as is.
func TestWireBatchesWhileCorked(t *testing.T) {
	wc := &writeCounter{}
	w := newWire(wc, nil, -1)
	expect := func(step string, want ...string) {
		t.Helper()
		if len(wc.writes) != len(want) {
			t.Fatalf("%s: %d writes to the socket, want %d", step, len(wc.writes), len(want))
		}
		for i, b := range wc.writes {
			if string(b) != want[i] {
				t.Fatalf("%s: write %d is %d bytes %.20q, want %d bytes %.20q", step, i, len(b), b, len(want[i]), want[i])
			}
		}
		wc.writes = nil
	}
	w.Write([]byte("a"))
	expect("uncorked", "a")

	w.cork(false)
	w.Write([]byte("b"))
	w.Write([]byte("c"))
	expect("corked")
	if err := w.uncork(); err != nil {
		t.Fatal(err)
	}
	expect("uncork", "bc")
	if err := w.uncork(); err != nil {
		t.Fatal(err)
	}
	expect("uncork with nothing gathered")

	big := string(bytes.Repeat([]byte("x"), maxBatch))
	half := string(bytes.Repeat([]byte("y"), maxBatch/2+1))
	w.cork(false)
	w.Write([]byte("d"))
	w.Write([]byte(big)) // the batch goes first, then the big one on its own
	expect("a message of maxBatch bytes", "d", big)
	w.Write([]byte(half))
	w.Write([]byte(half)) // would pass maxBatch: the first half goes out
	expect("past maxBatch", half)
	w.uncork()
	expect("uncork after maxBatch", half)
}

// TestWireLendsReadBufferWhileDataWaits: on a real socket the read buffer
// is lent when bytes arrive and given back once the reader took them all.
func TestWireLendsReadBufferWhileDataWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	w := newWire(server, []byte("pre"), -1)
	if w.raw == nil {
		t.Fatal("a TCP socket has no raw reader: an idle connection would hold a buffer")
	}
	// A text frame (0x81) of 98 bytes, unmasked: the scan needs frames.
	msg := append([]byte{0x81, 98}, bytes.Repeat([]byte("m"), 98)...)
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	var got []byte
	p := make([]byte, 16)
	for len(got) < 3+len(msg) {
		n, err := w.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p[:n]...)
		if len(got) == 3+16 && w.rbox == nil {
			t.Fatal("bytes wait unread, but no buffer holds them")
		}
	}
	if !bytes.Equal(got, append([]byte("pre"), msg...)) {
		t.Fatalf("read %q", got)
	}
	if w.rbox != nil || w.rbuf != nil {
		t.Fatal("every byte was read, but the wire still holds its read buffer")
	}
	client.Close()
	if _, err := w.Read(p); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the peer closed: %v, want EOF", err)
	}
	if w.rbox != nil {
		t.Fatal("the wire holds a read buffer after EOF")
	}
}

// tcpPair is a connected loopback TCP pair.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// tryWire is a Wire in try mode (backlog bound, kick) over a tcpPair
// whose server socket has a 4 KiB send buffer, so that it fills after a few
// writes; the test is skipped where try mode is off (no raw socket).
func tryWire(t *testing.T, bound int64, kick func()) (w *Wire, server, client net.Conn) {
	t.Helper()
	server, client = tcpPair(t)
	server.(*net.TCPConn).SetWriteBuffer(4096)
	w = newWire(server, nil, -1)
	if !w.setTry(bound, kick) {
		t.Skip("no raw socket here: try mode is off")
	}
	return w, server, client
}

// TestWireTryModeNeverBlocks: in try mode a write outside the writer's
// cork (and the reader's cork) is accepted at once even when the socket is
// full; what the socket did not take waits in the backlog, counted, and
// goes out first, in order, on the writer's blocking uncork. kick runs
// when a write outside a cork leaves a backlog.
func TestWireTryModeNeverBlocks(t *testing.T) {
	kicks := 0
	w, _, client := tryWire(t, 1<<30, func() { kicks++ })
	var want []byte
	chunk := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i) }
	// Far more than the socket buffers hold, and nobody reads yet.
	for i := range 600 {
		p := chunk(i)
		want = append(want, p...)
		if i%2 == 0 {
			if n, err := w.Write(p); n != len(p) || err != nil {
				t.Fatalf("write %d outside a cork: %d, %v", i, n, err)
			}
			continue
		}
		w.cork(true) // the reader's cork
		w.Write(p)
		if err := w.uncorkTry(); err != nil {
			t.Fatalf("uncorkTry %d: %v", i, err)
		}
	}
	if w.backlog() == 0 {
		t.Fatal("600 KiB to a peer that does not read, and no backlog: the writes blocked or were lost")
	}
	if kicks == 0 {
		t.Fatal("writes outside a cork left a backlog without kicking the writer")
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(want)+3)))
		got <- b
	}()
	// The writer: a blocking cork whose batch goes out after the backlog.
	w.cork(false)
	w.Write([]byte("end"))
	if err := w.uncork(); err != nil {
		t.Fatal(err)
	}
	if w.backlog() != 0 || w.back != nil {
		t.Fatalf("backlog %d after the blocking uncork", w.backlog())
	}
	b := <-got
	if !bytes.Equal(b, append(want, "end"...)) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(want)+3)
	}
}

// TestWireTryModeBoundsControlBacklog: a write outside a cork that would
// let the backlog pass its bound fails (a peer that sends pings but never
// reads the pongs is not reading) instead of growing it.
func TestWireTryModeBoundsControlBacklog(t *testing.T) {
	w, _, _ := tryWire(t, 64<<10, func() {})
	p := bytes.Repeat([]byte("p"), 127)
	for i := 0; ; i++ {
		_, err := w.Write(p)
		if err != nil {
			if !errors.Is(err, errBacklogFull) {
				t.Fatalf("write %d: %v, want the backlog bound", i, err)
			}
			break
		}
		if w.backlog() > 64<<10 {
			t.Fatalf("backlog %d passed its bound", w.backlog())
		}
	}
}

// TestWireTryModeWriteError: once the socket is closed, writes in try mode
// and the blocking flush of a backlog fail with an error, and the backlog
// is let go.
func TestWireTryModeWriteError(t *testing.T) {
	w, server, _ := tryWire(t, 1<<30, func() {})
	p := bytes.Repeat([]byte("z"), 64<<10)
	for w.backlog() == 0 {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	server.Close()
	if _, err := w.Write([]byte("more")); err == nil {
		t.Fatal("a try-mode write to a closed socket succeeded")
	}
	w.cork(false)
	if err := w.uncork(); err == nil {
		t.Fatal("flushing a backlog to a closed socket succeeded")
	}
	if w.backlog() != 0 || w.back != nil {
		t.Fatalf("backlog %d kept after the socket failed", w.backlog())
	}
}

// TestAppendTextFrame: the reader's answers are framed as RFC 6455 §5.2
// says a server's unfragmented text frame is: fin and opcode 1, no mask,
// the length in 7 bits, in 16 bits after 126, or in 64 bits after 127.
func TestAppendTextFrame(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want []byte // the header
	}{
		{"empty", 0, []byte{0x81, 0}},
		{"7-bit", 125, []byte{0x81, 125}},
		{"16-bit", 126, []byte{0x81, 126, 0, 126}},
		{"16-bit max", 0xffff, []byte{0x81, 126, 0xff, 0xff}},
		{"64-bit", 0x10000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bytes.Repeat([]byte{'x'}, tt.n)
			got := appendTextFrame([]byte("before"), p)
			want := append(append([]byte("before"), tt.want...), p...)
			if !bytes.Equal(got, want) {
				t.Errorf("header % x, want % x", got[6:min(len(got), 6+len(tt.want))], tt.want)
			}
		})
	}
}

// TestWireTryTextGoesBehindBacklog: tryText's frames join the backlog
// behind what already waits there, and go out in that order.
func TestWireTryTextGoesBehindBacklog(t *testing.T) {
	w, _, client := tryWire(t, 1<<20, func() {})
	w.wmu.Lock()
	w.appendBackLocked([]byte("first"))
	w.wmu.Unlock()
	if err := w.tryText([][]byte{[]byte("a"), []byte("bc")}); err != nil {
		t.Fatal(err)
	}
	want := append([]byte("first"), 0x81, 1, 'a', 0x81, 2, 'b', 'c')
	got := make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("socket got % x, want % x", got, want)
	}
	if n := w.backlog(); n != 0 {
		t.Errorf("backlog %d bytes after the socket took everything, want 0", n)
	}
}
