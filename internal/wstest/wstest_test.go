package wstest_test

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/internal/wstest"
)

// TestPair: a message each way crosses the pair, and wrap is given the
// server's writer before the upgrade.
func TestPair(t *testing.T) {
	ctx := t.Context()
	wrapped := false
	server, client := wstest.Pair(t, func(w http.ResponseWriter) http.ResponseWriter {
		wrapped = true
		return w
	})
	if !wrapped {
		t.Fatal("wrap was not called")
	}
	if err := client.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := server.Read(ctx); err != nil || string(b) != "ping" {
		t.Fatalf("server read %q, %v", b, err)
	}
	if err := server.Write(ctx, websocket.MessageBinary, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	if typ, b, err := client.Read(ctx); err != nil || typ != websocket.MessageBinary || string(b) != "pong" {
		t.Fatalf("client read %v %q, %v", typ, b, err)
	}
}
