package rpcconn_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// clientFrame is a masked client frame (zero mask: the payload as is).
func clientFrame(b0 byte, p string) []byte { return maskedWith([4]byte{}, b0, p) }

// TestMessagesReadWhole: the reader reads a one-frame message straight
// into a buffer of the size its header announced, and anything else as
// before; every kind arrives whole and in order, however the frames were
// cut into TCP writes: small and 16-bit lengths, a message fragmented
// around a ping, one past the sized-read bound, one at the read limit.
func TestMessagesReadWhole(t *testing.T) {
	const limit = 64 << 10
	// Inline: answered in the order the calls came.
	s := startServer(t, rpcconn.Options{PingInterval: -1, Inline: func(*protocol.Message) bool { return true }}, limit)
	conn, br := dialRaw(t, s.hs)
	defer func() {
		conn.Close()
		<-s.errs // the server's reader ended
	}()
	call := func(id int, pad int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo","params":[%q]}`, id, strings.Repeat("x", pad))
	}
	frag := call(3, 500)
	pad6 := limit - len(call(6, 0))
	atLimit := call(6, pad6)
	var stream []byte
	stream = append(stream, clientFrame(0x81, call(1, 10))...)
	stream = append(stream, clientFrame(0x81, call(2, 300))...)
	stream = append(stream, clientFrame(0x01, frag[:100])...)
	stream = append(stream, clientFrame(0x89, "ping")...)
	stream = append(stream, clientFrame(0x00, frag[100:400])...)
	stream = append(stream, clientFrame(0x80, frag[400:])...)
	stream = append(stream, clientFrame(0x81, call(4, 20000))...)
	stream = append(stream, clientFrame(0x81, call(5, 0))...)
	stream = append(stream, clientFrame(0x81, atLimit)...)
	stream = append(stream, clientFrame(0x81, call(7, 1))...)
	go func() {
		for i := 0; i < len(stream); i += 333 {
			if _, err := conn.Write(stream[i:min(i+333, len(stream))]); err != nil {
				return
			}
		}
	}()
	want := []string{
		`{"jsonrpc":"2.0","id":1,"result":["` + strings.Repeat("x", 10) + `"]}`,
		`{"jsonrpc":"2.0","id":2,"result":["` + strings.Repeat("x", 300) + `"]}`,
		`{"jsonrpc":"2.0","id":3,"result":["` + strings.Repeat("x", 500) + `"]}`,
		`{"jsonrpc":"2.0","id":4,"result":["` + strings.Repeat("x", 20000) + `"]}`,
		`{"jsonrpc":"2.0","id":5,"result":[""]}`,
		`{"jsonrpc":"2.0","id":6,"result":["` + strings.Repeat("x", pad6) + `"]}`,
		`{"jsonrpc":"2.0","id":7,"result":["x"]}`,
	}
	for i, w := range want {
		for {
			b0, err := br.Peek(1)
			if err != nil {
				t.Fatalf("answer %d: %v", i+1, err)
			}
			if b0[0]&0x0f == 0x1 {
				break
			}
			readTextFrame(br) // the pong
		}
		got, err := readTextFrame(br)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		if string(got) != w {
			t.Fatalf("answer %d: %.80s… (%d bytes), want %.80s… (%d bytes)", i+1, got, len(got), w, len(w))
		}
	}
}
