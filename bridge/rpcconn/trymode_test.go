package rpcconn_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

// readInOrder reads the answers to the n "pad" calls of pad bytes that
// pipeline sent, and fails unless they come whole and in the order of the
// calls.
func readInOrder(t *testing.T, ws *websocket.Conn, n, pad int) {
	t.Helper()
	for i := range n {
		readPadAnswer(t, ws, i, pad)
	}
}

// TestReaderAnswersInOrderThroughPartialWrites: the reader writes inline
// answers itself, without blocking, to a peer that reads nothing until all
// 400 calls were served (far more than the socket buffers hold, so the
// writes are partial and the rest waits in the Wire's backlog); the peer
// then reads every answer, in the order of the calls.
func TestReaderAnswersInOrderThroughPartialWrites(t *testing.T) {
	const n = 400
	s := startInlineServer(t, rpcconn.Options{MaxSendBytes: 64 << 20}, n)
	ws, wire := s.pipeline(t, n, 3000)
	s.waitServed(t)
	if wire.Deferred() == 0 {
		t.Fatal("1.2 MB of answers to a peer that read nothing, and no write left bytes in the Wire's backlog: the reader's writes did not go through try mode")
	}
	readInOrder(t, ws, n, 3000)
	ws.Close(websocket.StatusNormalClosure, "")
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestReaderNotBlockedByNonReader: a peer that stops reading while inline
// answers are written does not stop the reader: it reads and serves every
// call (a reader blocked in the write would serve two or three), and the
// connection still ends, by the write timeout or by the send budget.
func TestReaderNotBlockedByNonReader(t *testing.T) {
	t.Run("write timeout", func(t *testing.T) {
		const n = 60
		// 60 × 16 KiB is far more than the socket buffers hold, far less
		// than the budget: only the write timeout can end it.
		s := startInlineServer(t, rpcconn.Options{MaxSendBytes: 64 << 20, WriteTimeout: time.Second}, n)
		s.pipeline(t, n, 16<<10)
		s.waitServed(t)
		err := <-s.errs
		if err == nil || !strings.Contains(err.Error(), "write timed out") {
			t.Fatalf("Run = %v, want the write timeout", err)
		}
		if got := s.h.n.Load(); got != n {
			t.Fatalf("%d calls served, want all %d", got, n)
		}
	})
	t.Run("send budget", func(t *testing.T) {
		// 1 MiB of budget is 64 answers of 16 KiB: the reader serves
		// far more calls than the socket buffers hold answers (a
		// blocked reader serves about 11 here), then the budget closes
		// the peer with 1008 (the write timeout is an hour: the budget,
		// not it, ends the connection).
		s := startInlineServer(t, rpcconn.Options{MaxSendBytes: 1 << 20, WriteTimeout: time.Hour}, 40)
		ws, _ := s.pipeline(t, 400, 16<<10)
		s.waitServed(t)
		var ce websocket.CloseError
		for {
			_, _, err := ws.Read(t.Context())
			if err == nil {
				continue
			}
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			break
		}
		if ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "not reading") {
			t.Fatalf("closed with %v, want 1008 not reading", ce)
		}
		if err := <-s.errs; err == nil || !strings.Contains(err.Error(), "1008") {
			t.Fatalf("Run = %v, want the 1008 close", err)
		}
		if got := s.h.n.Load(); got >= 400 {
			t.Fatalf("%d calls served: the budget did not stop the serving", got)
		}
	})
}

// TestCaptureSeesEveryInlineFrame: with an OnFrame hook the reader does not
// write (the hook may hold a write as long as it likes); every frame in and
// out is still seen, and every answer arrives in order.
func TestCaptureSeesEveryInlineFrame(t *testing.T) {
	const n = 200
	var mu sync.Mutex
	var in, out int
	s := startInlineServer(t, rpcconn.Options{MaxSendBytes: 64 << 20, OnFrame: func(dir string, _ []byte) {
		mu.Lock()
		defer mu.Unlock()
		if dir == "in" {
			in++
		} else {
			out++
		}
	}}, n)
	ws, _ := s.pipeline(t, n, 100)
	readInOrder(t, ws, n, 100)
	ws.Close(websocket.StatusNormalClosure, "")
	<-s.errs
	mu.Lock()
	defer mu.Unlock()
	if in != n || out != n {
		t.Fatalf("capture saw %d in and %d out, want %d each", in, out, n)
	}
}

// TestShutdownSendsBacklogBeforeClose: answers left in the Wire's backlog
// and queue when a shutdown starts all reach the peer, in order, before the
// close frame (the close waits for the drain, then writes after the
// backlog).
func TestShutdownSendsBacklogBeforeClose(t *testing.T) {
	const n = 200
	s := startInlineServer(t, rpcconn.Options{MaxSendBytes: 64 << 20}, n)
	ws, wire := s.pipeline(t, n, 3000)
	c := <-s.conns
	s.waitServed(t)
	if wire.Deferred() == 0 {
		t.Fatal("600 KB of answers to a peer that read nothing, and no write left bytes in the backlog")
	}
	go c.Shutdown(context.Background(), errors.New("shutting down"), websocket.StatusGoingAway, "shutting down")
	readInOrder(t, ws, n, 3000)
	_, _, err := ws.Read(t.Context())
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after the answers: %v, want the 1001 close", err)
	}
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v, want nil for a 1001 close", err)
	}
}

// TestPeerCloseAfterPipelineGetsCloseReply: a peer that pipelines calls
// and closes right after them (reading only once it closed) gets every
// answer written before the close reply, and the close reply itself: the
// handshake ends cleanly on both sides, although the answers waited in
// the Wire's backlog when the peer's close frame was read.
//
// With an OnFrame hook (capture on) there is no try mode: the reply is
// gathered in the writer's batch while the writer has the Wire corked,
// and must not be dropped by the close that follows it either.
func TestPeerCloseAfterPipelineGetsCloseReply(t *testing.T) {
	t.Run("try mode", func(t *testing.T) {
		peerCloseAfterPipeline(t, rpcconn.Options{MaxSendBytes: 64 << 20})
	})
	t.Run("capture on", func(t *testing.T) {
		peerCloseAfterPipeline(t, rpcconn.Options{MaxSendBytes: 64 << 20, OnFrame: func(string, []byte) {}})
	})
}

func peerCloseAfterPipeline(t *testing.T, opts rpcconn.Options) {
	const n = 100
	s := startInlineServer(t, opts, n)
	ws, _, err := websocket.Dial(t.Context(), wsURL(s.hs), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	<-s.wires
	for i := range n {
		msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"pad","params":{"i":%d,"n":3000}}`, i, i)
		if err := ws.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// Close writes the close frame, then reads (discarding the answers)
	// until the close reply.
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("the peer's close: %v (served %d), want the close reply", err, s.h.n.Load())
	}
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestKeepaliveInTryMode: the keepalive's pings and the close frame go
// through the Wire in try mode: a peer that answers each ping with a pong
// is pinged again, one that stops is closed with 1008 for the idle timeout.
func TestKeepaliveInTryMode(t *testing.T) {
	s := startInlineServer(t, rpcconn.Options{PingInterval: 100 * time.Millisecond, IdleTimeout: time.Second}, 1)
	conn, br := dialRaw(t, s.hs)
	<-s.wires
	frame := func() (byte, []byte) {
		t.Helper()
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatal(err)
		}
		if h[1]&0x7f > 125 {
			t.Fatalf("frame of opcode %d with an extended length", h[0]&0x0f)
		}
		p := make([]byte, h[1]&0x7f)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		return h[0] & 0x0f, p
	}
	for i := range 3 {
		op, p := frame()
		if op != 9 {
			t.Fatalf("frame %d has opcode %d, want a ping", i, op)
		}
		pong := append([]byte{0x8a, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...) // masked with a zero key
		if _, err := conn.Write(pong); err != nil {
			t.Fatal(err)
		}
	}
	for {
		op, p := frame()
		if op == 9 {
			continue // a ping sent before the idle timeout passed
		}
		if op != 8 || len(p) < 2 || binary.BigEndian.Uint16(p) != uint16(websocket.StatusPolicyViolation) || !strings.Contains(string(p[2:]), "idle timeout") {
			t.Fatalf("frame of opcode %d %q, want the 1008 idle close", op, p)
		}
		break
	}
	conn.Close()
	if err := <-s.errs; err == nil || !strings.Contains(err.Error(), "idle timeout") {
		t.Fatalf("Run = %v, want the idle timeout", err)
	}
}
