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

	w.cork()
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
	w.cork()
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
