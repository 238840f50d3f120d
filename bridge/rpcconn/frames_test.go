package rpcconn_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestReaderFramesEveryLength: the answers the reader writes itself (try
// mode frames them without the WebSocket's writer) reach a WebSocket
// client intact at every length class of a frame header (7, 16 and 64
// bits), pipelined; with compression negotiated the WebSocket frames them,
// and calls compressed on the way in are read whole.
func TestReaderFramesEveryLength(t *testing.T) {
	for _, mode := range []websocket.CompressionMode{websocket.CompressionDisabled, websocket.CompressionContextTakeover} {
		t.Run(map[websocket.CompressionMode]string{websocket.CompressionDisabled: "plain", websocket.CompressionContextTakeover: "compressed"}[mode], func(t *testing.T) {
			testReaderFramesEveryLength(t, mode)
		})
	}
}

func testReaderFramesEveryLength(t *testing.T, mode websocket.CompressionMode) {
	h := &countingHandler{at: -1}
	ran := make(chan error, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw := rpcconn.GuardFrames(w, 1<<20)
		ws, err := websocket.Accept(gw, r, &websocket.AcceptOptions{CompressionMode: mode})
		if err != nil {
			ran <- err
			return
		}
		ws.SetReadLimit(1 << 20)
		opts := rpcconn.Options{Wire: rpcconn.WireOf(gw), PingInterval: -1, Inline: func(*protocol.Message) bool { return true }}
		ran <- rpcconn.New(context.Background(), ws, h, opts).Run()
	}))
	t.Cleanup(hs.Close)
	ws, resp, err := websocket.Dial(t.Context(), wsURL(hs), &websocket.DialOptions{CompressionMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The next test counts goroutines: the server's reader ends first.
		ws.Close(websocket.StatusNormalClosure, "")
		if err := <-ran; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	ws.SetReadLimit(1 << 20)
	if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != (mode != websocket.CompressionDisabled) {
		t.Fatalf("extension negotiated: %v, want %v", got, !got)
	}
	// An answer is {"jsonrpc":"2.0","id":I,"result":{"i":I,"pad":"…"}}:
	// pads around 125-35, 65535-35 and past 65536 cross each header class.
	var pads []int
	for n := 70; n < 110; n++ {
		pads = append(pads, n)
	}
	for n := 65480; n < 65520; n++ {
		pads = append(pads, n)
	}
	pads = append(pads, 0, 200000)
	// Every 7th call carries 3000 bytes the handler ignores: compressed
	// when compression was negotiated, so its frame is far smaller than
	// the message the reader gets.
	junk := strings.Repeat("x", 3000)
	go func() {
		for i, n := range pads {
			msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"pad","params":{"i":%d,"n":%d}}`, i, i, n)
			if i%7 == 0 {
				msg = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"pad","params":{"i":%d,"n":%d,"junk":%q}}`, i, i, n, junk)
			}
			if ws.Write(context.Background(), websocket.MessageText, []byte(msg)) != nil {
				return
			}
		}
	}()
	for i, n := range pads {
		readPadAnswer(t, ws, i, n)
	}
}
