package rpcconn_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

// BenchmarkPipelinedAnswers: the client writes 64 calls without waiting,
// then reads the 64 answers. write-syscalls/answer is the server's writes
// per answer (the process's write syscalls from /proc/self/io, minus the
// client's one per call): 1 when every answer is a write of its own, less
// when queued answers leave together.
//
//	go test -run '^$' -bench PipelinedAnswers ./bridge/rpcconn/
func BenchmarkPipelinedAnswers(b *testing.B) {
	const depth = 64
	s := startServer(b, rpcconn.Options{}, 1<<20)
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, s.url(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow()
	msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"firstname":"Aino","lastname":"Virtanen"}}`)
	w0, ok := writeSyscalls()
	if !ok {
		b.Skip("no /proc/self/io to count write syscalls")
	}
	b.ResetTimer()
	for range b.N {
		for range depth {
			if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
				b.Fatal(err)
			}
		}
		for range depth {
			if _, _, err := ws.Read(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	w1, _ := writeSyscalls()
	answers := float64(b.N * depth)
	b.ReportMetric((float64(w1-w0)-answers)/answers, "write-syscalls/answer")
}

// writeSyscalls is this process's count of write syscalls so far.
func writeSyscalls() (int64, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
