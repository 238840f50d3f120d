package rpcconn

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/internal/wstest"
)

// BenchmarkReadMessage reads createrecord-sized messages (330 bytes) that
// a client streams over loopback, as the reader does: straight into a
// buffer of the size the header announced (sized), or into a pooled
// buffer and then a copy (pooled, the path for messages of unknown size).
func BenchmarkReadMessage(b *testing.B) {
	for _, bc := range []struct {
		name string
		read func(r io.Reader, n int) ([]byte, error)
	}{
		{"sized", readSized},
		{"pooled", func(r io.Reader, _ int) ([]byte, error) { return readPooled(r) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":` + strings.Repeat(" ", 200) + `{"entityName":"contact","value":{"firstname":"Aino"}}}`)
			ws, peer := wstest.Pair(b, func(w http.ResponseWriter) http.ResponseWriter { return GuardFrames(w, 1<<20) })
			go func() {
				for {
					if peer.Write(context.Background(), websocket.MessageText, msg) != nil {
						return
					}
				}
			}()
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := ws.Reader(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				data, err := bc.read(r, len(msg))
				if err != nil || len(data) != len(msg) {
					b.Fatalf("read %d bytes, %v", len(data), err)
				}
			}
		})
	}
}
