package rpcconn

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// TestWireTryTextAndControlFramesNeverInterleave: the reader frames its
// own answers into the Wire (tryText) while another goroutine writes
// whole control frames through it (the keepalive's pings, a pong), and the
// socket takes only part of what is written (a small send buffer, a peer
// reading slowly), and a writer goroutine flushes what it did not take:
// every frame reaches the peer whole, the answers in the
// order they were framed, each control frame between two answers, never
// inside one. Sizes cross the 7-bit, 16-bit and 64-bit length forms.
func TestWireTryTextAndControlFramesNeverInterleave(t *testing.T) {
	server, client := tcpPair(t)
	server.(*net.TCPConn).SetWriteBuffer(4096)
	w := newWire(server, nil, -1)
	if !w.setTry(1<<30, func() {}) {
		t.Skip("no raw socket here: try mode is off")
	}
	const answers = 400
	answer := func(i int) []byte {
		n := []int{3, 125, 126, 200, 4000, 0xffff, 0x10000, 70000, 1, 2, 50, 300, 1000, 17, 9, 126}[i%16]
		p := make([]byte, n)
		copy(p, strconv.Itoa(i)+":")
		for j := len(strconv.Itoa(i)) + 1; j < n; j++ {
			p[j] = byte('a' + (i+j)%26)
		}
		return p
	}
	ping := []byte{0x89, 4, 'p', 'i', 'n', 'g'} // a server's ping frame, as coder/websocket writes it: one Write

	type frame struct {
		op      byte
		payload []byte
	}
	frames := make(chan frame, 4096)
	readErr := make(chan error, 1)
	go func() {
		br := bufio.NewReaderSize(client, 512)
		for {
			var h [2]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				readErr <- err
				close(frames)
				return
			}
			if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
				readErr <- fmt.Errorf("frame header % x: not fin, or masked (a server's frames are neither)", h)
				close(frames)
				return
			}
			n := uint64(h[1] & 0x7f)
			switch n {
			case 126:
				var e [2]byte
				io.ReadFull(br, e[:])
				n = uint64(binary.BigEndian.Uint16(e[:]))
			case 127:
				var e [8]byte
				io.ReadFull(br, e[:])
				n = binary.BigEndian.Uint64(e[:])
			}
			if n > 1<<20 {
				readErr <- fmt.Errorf("frame header % x announces %d bytes: bytes of another frame read as a header", h, n)
				close(frames)
				return
			}
			p := make([]byte, n)
			if _, err := io.ReadFull(br, p); err != nil {
				readErr <- err
				close(frames)
				return
			}
			frames <- frame{op: h[0] & 0x0f, payload: p}
		}
	}()

	// The goroutines report to gerrs, not t: a failed check ends the test
	// while they may still run; its deferred close ends them, then it
	// waits for them.
	gerrs := make(chan error, 3)
	var wg, all sync.WaitGroup
	defer func() {
		server.Close()
		client.Close()
		all.Wait()
	}()
	all.Add(1)
	wg.Go(func() { // the reader, framing its answers a few at a time
		for i := 0; i < answers; {
			for range 20 {
				// The writer goroutine the role passes to takes a while
				// to run: meanwhile the peer reads, and pings come.
				runtime.Gosched()
			}
			if w.backlog() > 0 {
				// The reader frames only while it holds the writer role,
				// which it gets with no backlog left: a writer goroutine
				// flushes one first, blocking (writeLoop's uncork).
				w.cork(false)
				if err := w.uncork(); err != nil {
					gerrs <- fmt.Errorf("flush: %w", err)
					return
				}
			}
			var batch [][]byte
			for k := 0; k < 1+i%3 && i < answers; k++ {
				batch = append(batch, answer(i))
				i++
			}
			if err := w.tryText(batch); err != nil {
				gerrs <- fmt.Errorf("tryText: %w", err)
				return
			}
		}
	})
	stop := make(chan struct{})
	sentPings := make(chan int, 1)
	all.Add(1)
	go func() { // the keepalive, pinging all along
		defer all.Done()
		n := 0
		defer func() { sentPings <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Write(ping); err != nil {
				gerrs <- fmt.Errorf("ping: %w", err)
				return
			}
			n++
			runtime.Gosched()
		}
	}()
	done := make(chan int, 1) // the pings sent, once the flush is done
	go func() {
		defer all.Done()
		wg.Wait()
		close(stop)
		pings := <-sentPings
		defer func() { done <- pings }()
		// The writer's blocking flush sends what the socket did not take.
		w.cork(false)
		if err := w.uncork(); err != nil {
			gerrs <- fmt.Errorf("final flush: %w", err)
		}
	}()

	next, pinged, pings := 0, 0, -1
	for next < answers || pings < 0 || pinged < pings {
		if next == answers && pings < 0 {
			select {
			case pings = <-done: // every answer is in: how many pings went out
			case err := <-gerrs:
				t.Fatal(err)
			}
			continue
		}
		var f frame
		var ok bool
		select {
		case f, ok = <-frames:
		case err := <-gerrs:
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("after %d answers and %d pings: %v", next, pinged, <-readErr)
		}
		switch f.op {
		case 0x9:
			if string(f.payload) != "ping" {
				t.Fatalf("ping payload %q", f.payload)
			}
			pinged++
		case 0x1:
			if want := answer(next); string(f.payload) != string(want) {
				t.Fatalf("answer %d: got %d bytes starting %q, want %d bytes starting %q", next, len(f.payload), f.payload[:min(len(f.payload), 12)], len(want), want[:min(len(want), 12)])
			}
			next++
		default:
			t.Fatalf("frame with opcode %d", f.op)
		}
	}
	select {
	case err := <-gerrs:
		t.Fatal(err)
	default:
	}
	if pinged == 0 || pings != pinged {
		t.Errorf("%d pings read of the %d written", pinged, pings)
	}
	if w.backlog() != 0 {
		t.Errorf("backlog %d after everything was read", w.backlog())
	}
}
