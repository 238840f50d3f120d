package rpcconn

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
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

// benchMsg is a createrecord-sized message (330 bytes), as in
// BenchmarkReadMessage.
var benchMsg = []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":` + strings.Repeat(" ", 200) + `{"entityName":"contact","value":{"firstname":"Aino"}}}`)

// streamingPeer starts a loopback WebSocket whose client writes msg over
// and over; it returns the server side and its Wire, in fast mode.
func streamingPeer(b *testing.B, msg []byte) (*websocket.Conn, *Wire) {
	srv := make(chan *websocket.Conn, 1)
	wires := make(chan *Wire, 1)
	done := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw := GuardFrames(w, 1<<20)
		ws, err := websocket.Accept(gw, r, nil)
		if err != nil {
			return
		}
		wire := WireOf(gw)
		wire.setFast()
		srv <- ws
		wires <- wire
		<-done
	}))
	b.Cleanup(hs.Close)
	b.Cleanup(func() { close(done) })
	peer, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { peer.CloseNow() })
	ws := <-srv
	b.Cleanup(func() { ws.CloseNow() })
	go func() {
		for {
			if peer.Write(context.Background(), websocket.MessageText, msg) != nil {
				return
			}
		}
	}()
	return ws, <-wires
}

// BenchmarkReadFast reads createrecord-sized messages that a client
// streams over loopback, as Conn.read does: taken by the Wire itself
// (fast), or through coder/websocket's Reader into a pooled buffer and a
// copy (websocket: the path for everything nextText leaves; the Wire hands
// the WebSocket one frame's bytes at a time). BenchmarkReadMessage/sized
// is the reader's path before nextText.
func BenchmarkReadFast(b *testing.B) {
	b.Run("fast", func(b *testing.B) {
		_, w := streamingPeer(b, benchMsg)
		b.ReportAllocs()
		for b.Loop() {
			data, ok, err := w.nextText()
			if err != nil || !ok || len(data) != len(benchMsg) {
				b.Fatalf("read %d bytes, %v, %v", len(data), ok, err)
			}
		}
	})
	b.Run("websocket", func(b *testing.B) {
		ws, _ := streamingPeer(b, benchMsg)
		b.ReportAllocs()
		for b.Loop() {
			_, r, err := ws.Reader(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			data, err := readPooled(r)
			if err != nil || len(data) != len(benchMsg) {
				b.Fatalf("read %d bytes, %v", len(data), err)
			}
		}
	})
}
