package rpcconn_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

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
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(s.hs.URL, "http"), nil)
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
