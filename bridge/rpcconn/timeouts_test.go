package rpcconn_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

// TestOversizedFrameHeaderRefusedAtOnce: a header announcing 2^62 bytes is
// answered with 1009 before any payload is sent (SetReadLimit alone waits
// for the limit's worth of payload first).
func TestOversizedFrameHeaderRefusedAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name   string
		frames [][]byte
	}{
		{"one frame of 2^62", [][]byte{frameHeader(1, true, 1<<62)}},
		{"fragments adding up past the limit", [][]byte{
			append(frameHeader(1, false, 3000), make([]byte, 3000)...),
			frameHeader(0, true, 3000),
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, rpcconn.Options{}, 4096)
			conn, br := dialRaw(t, s.hs)
			for _, f := range tt.frames {
				conn.Write(f)
			}
			// No payload follows: only a server that refuses on the header
			// answers; one that waits would leave this read hanging.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			code, reason, err := readCloseFrame(br)
			if err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if code != websocket.StatusMessageTooBig || !strings.Contains(reason, "too big") {
				t.Fatalf("closed with %d %q, want 1009", code, reason)
			}
			if err := <-s.errs; !errors.Is(err, rpcconn.ErrMessageTooBig) {
				t.Fatalf("Run = %v", err)
			}
		})
	}
}

// TestStalledMessageClosed: a peer that sends half a frame and stops is
// closed once ReadTimeout has passed, with 1008 and the reason.
func TestStalledMessageClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := startPipeServer(t, rpcconn.Options{ReadTimeout: 30 * time.Second, PingInterval: -1})
		conn, _ := ps.ln.Dial(t.Context(), "", "")
		defer conn.Close()
		br := rawHandshake(t, conn)
		go func() {
			conn.Write(frameHeader(1, true, 100))
			conn.Write([]byte(`{"jsonrpc"`)) // 10 of the 100 bytes, then nothing
		}()
		start := time.Now()
		got := make(chan websocket.StatusCode, 1)
		go func() {
			code, _, _ := readCloseFrame(br)
			got <- code
		}()
		err := <-ps.errs
		// 30 s, plus at most the 5 s the close handshake waits for the peer.
		if waited := time.Since(start); waited < 30*time.Second || waited > 35*time.Second {
			t.Errorf("closed after %v, want the 30 s read timeout", waited)
		}
		if err == nil || !strings.Contains(err.Error(), "stalled") {
			t.Fatalf("Run = %v, want the stalled-message error", err)
		}
		if code := <-got; code != websocket.StatusPolicyViolation {
			t.Errorf("close code %d, want 1008", code)
		}
	})
}

// TestIdlePeerClosed: a peer that answers nothing, not even pings, is
// closed after IdleTimeout; one that reads (and so answers pings) stays.
func TestIdlePeerClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := rpcconn.Options{PingInterval: 10 * time.Second, IdleTimeout: 30 * time.Second}
		ps := startPipeServer(t, opts)
		// The live peer: a coder/websocket client reading all along.
		live, _, err := websocket.Dial(t.Context(), "ws://127.0.0.1/", &websocket.DialOptions{
			HTTPClient: ps.ln.Client(),
		})
		if err != nil {
			t.Fatal(err)
		}
		liveCtx := live.CloseRead(context.Background())
		// The dead peer: upgraded, then never reads a byte again.
		dead, _ := ps.ln.Dial(t.Context(), "", "")
		defer dead.Close()
		rawHandshake(t, dead)
		start := time.Now()
		err = <-ps.errs
		// A peer that does not even take the ping frame is closed once the
		// ping's write gives up (5 s); one whose socket takes it but sends
		// no pong, at IdleTimeout.
		if waited := time.Since(start); waited < 10*time.Second || waited > 45*time.Second {
			t.Errorf("idle peer closed after %v, want 10-45 s", waited)
		}
		if err == nil || !strings.Contains(err.Error(), "idle timeout") {
			t.Fatalf("Run = %v, want the idle timeout", err)
		}
		time.Sleep(5 * time.Minute)
		select {
		case <-liveCtx.Done():
			t.Fatal("a peer answering pings was closed")
		case err := <-ps.errs:
			t.Fatalf("a peer answering pings ended: %v", err)
		default:
		}
		live.Close(websocket.StatusNormalClosure, "")
		<-ps.errs
	})
}

// TestReadTimeoutPerMessage: ReadTimeout bounds each message from when it
// began, not the time between messages nor the whole connection: two
// messages each sent in two halves 20 s apart, with 40 s of silence
// between them, are both answered under a 30 s ReadTimeout (the second
// starts its own 30 s); a message trickled in 10 s apart, each piece in
// time but the whole not, is closed 30 s after it began; so is one whose
// header stops after its first byte.
func TestReadTimeoutPerMessage(t *testing.T) {
	msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}`)
	t.Run("two slow messages answered", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ps := startPipeServer(t, rpcconn.Options{ReadTimeout: 30 * time.Second, PingInterval: -1})
			conn, _ := ps.ln.Dial(t.Context(), "", "")
			defer conn.Close()
			br := rawHandshake(t, conn)
			for i := range 2 {
				conn.Write(frameHeader(1, true, uint64(len(msg))))
				conn.Write(msg[:10])
				time.Sleep(20 * time.Second)
				conn.Write(msg[10:])
				got, err := readTextFrame(br)
				if err != nil || !strings.Contains(string(got), `"result":[1]`) {
					t.Fatalf("message %d: answer %q, %v", i+1, got, err)
				}
				time.Sleep(40 * time.Second)
			}
			select {
			case err := <-ps.errs:
				t.Fatalf("Run ended: %v", err)
			default:
			}
			conn.Close()
			<-ps.errs
		})
	})
	for _, tt := range []struct {
		name string
		send func(conn net.Conn)
		max  time.Duration // 30 s, plus what the close takes
	}{
		{"trickled message closed", func(conn net.Conn) {
			conn.Write(frameHeader(1, true, uint64(len(msg))))
			for _, b := range msg {
				if _, err := conn.Write([]byte{b}); err != nil {
					return // closed
				}
				time.Sleep(10 * time.Second)
			}
			// The close handshake waits 5 s; the reader, blocked in the
			// message, ends with the next piece.
		}, 40 * time.Second},
		{"half a header closed", func(conn net.Conn) {
			conn.Write(frameHeader(1, true, uint64(len(msg)))[:1])
		}, 35 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ps := startPipeServer(t, rpcconn.Options{ReadTimeout: 30 * time.Second, PingInterval: -1})
				conn, _ := ps.ln.Dial(t.Context(), "", "")
				defer conn.Close()
				br := rawHandshake(t, conn)
				start := time.Now()
				sent := make(chan struct{})
				go func() { tt.send(conn); close(sent) }()
				go readCloseFrame(br)
				err := <-ps.errs
				conn.Close()
				<-sent
				if waited := time.Since(start); waited < 30*time.Second || waited > tt.max {
					t.Errorf("closed after %v, want the 30 s read timeout (at most %v)", waited, tt.max)
				}
				if err == nil || !strings.Contains(err.Error(), "stalled") {
					t.Fatalf("Run = %v, want the stalled-message error", err)
				}
			})
		})
	}
}

// TestStalledHeaderClosedOnTCP: on a real socket, where the Wire waits for
// readability in the poller without a buffer (try mode), the read timeout
// runs only inside a message: a client quiet between messages for twice
// the timeout is not closed, and one that then sends a single byte of a
// frame header and stops is closed with 1008 "message not complete
// within …", no sooner than the timeout. (The synctest tests of the same
// rule run on an in-memory pipe, which takes the buffered read path.)
func TestStalledHeaderClosedOnTCP(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := startInlineServer(t, rpcconn.Options{ReadTimeout: timeout, PingInterval: -1}, 1)
	conn, br := dialRaw(t, s.hs)
	<-s.wires

	msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"pad","params":{"i":1,"n":3}}`)
	conn.Write(append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)) // masked with a zero key
	got, err := readTextFrame(br)
	if err != nil || !strings.Contains(string(got), `"pad":"xxx"`) {
		t.Fatalf("answer %q, %v", got, err)
	}
	select {
	case err := <-s.errs:
		t.Fatalf("closed while quiet between messages: %v", err)
	case <-time.After(2 * timeout): // a lower bound: nothing may happen meanwhile
	}

	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard, not a timing
	start := time.Now()
	conn.Write([]byte{0x81}) // half a header, then nothing
	code, reason, err := readCloseFrame(br)
	waited := time.Since(start)
	if err != nil || code != websocket.StatusPolicyViolation || !strings.Contains(reason, "message not complete within "+timeout.String()) {
		t.Fatalf("close frame %d %q, %v; want 1008 message not complete", code, reason, err)
	}
	if waited < timeout {
		t.Errorf("closed %v after the half header, before the %v read timeout", waited, timeout)
	}
	conn.Close()
	if err := <-s.errs; err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Run = %v, want the stalled-message error", err)
	}
}
