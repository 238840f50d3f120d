package rpcconn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
	"github.com/cifbridge/cifbridge/protocol"
)

// readClose reads until the connection ends and returns the close error.
func readClose(t *testing.T, ws *websocket.Conn) websocket.CloseError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce
	}
}

func TestFraming(t *testing.T) {
	s := startServer(t, rpcconn.Options{}, 1<<20)
	ws, _ := s.dial(t)
	tests := []struct {
		name string
		send string
		want string
	}{
		{"request", `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}}`, `{"jsonrpc":"2.0","id":1,"result":{"a":1}}`},
		{"string and big ids byte-exact", `{"jsonrpc":"2.0","id":12345678901234567890,"method":"echo"}`, `{"jsonrpc":"2.0","id":12345678901234567890,"result":null}`},
		{"parse error", `{"jsonrpc":`, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: the message is not valid JSON"}}`},
		{"invalid request", `{"jsonrpc":"1.0","id":"x","method":"echo"}`, `{"jsonrpc":"2.0","id":"x","error":{"code":-32600,"message":"invalid request: \"jsonrpc\" must be exactly \"2.0\""}}`},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]},{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","id":2,"method":"echo","params":[2]}]`,
			`[{"jsonrpc":"2.0","id":1,"result":[1]},{"jsonrpc":"2.0","id":2,"result":[2]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t, ws, tt.send)
			if got := read(t, ws); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// A batch of notifications gets no answer: the next reply is the echo.
	write(t, ws, `[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"echo"}]`)
	write(t, ws, `{"jsonrpc":"2.0","id":"after","method":"echo"}`)
	if got := read(t, ws); got != `{"jsonrpc":"2.0","id":"after","result":null}` {
		t.Fatalf("after a notification batch: %s", got)
	}
}

func TestCloseCodes(t *testing.T) {
	tests := []struct {
		name   string
		typ    websocket.MessageType
		msg    []byte
		code   websocket.StatusCode
		reason string
	}{
		{"binary frame", websocket.MessageBinary, []byte(`{}`), websocket.StatusUnsupportedData, "text frame"},
		{"invalid UTF-8", websocket.MessageText, []byte("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":[\"\xff\xfe\"]}"), websocket.StatusInvalidFramePayloadData, "UTF-8"},
		{"over the read limit", websocket.MessageText, []byte(`"` + strings.Repeat("x", 5000) + `"`), websocket.StatusMessageTooBig, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, rpcconn.Options{}, 4096)
			ws, _ := s.dial(t)
			if err := ws.Write(context.Background(), tt.typ, tt.msg); err != nil {
				t.Fatal(err)
			}
			ce := readClose(t, ws)
			if ce.Code != tt.code || !strings.Contains(ce.Reason, tt.reason) {
				t.Fatalf("closed with %d %q, want %d with %q", ce.Code, ce.Reason, tt.code, tt.reason)
			}
			if tt.code == websocket.StatusInvalidFramePayloadData && s.h.running.Load()+s.h.maxSeen.Load() != 0 {
				t.Fatal("a frame with invalid UTF-8 was served")
			}
		})
	}
}

// TestPendingCallRetiredWithReadError: a call waiting when the peer closes
// ends with the peer's close (code and reason), not a bare ErrClosed.
func TestPendingCallRetiredWithReadError(t *testing.T) {
	s := startServer(t, rpcconn.Options{}, 1<<20)
	ws, c := s.dial(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), "cif.onclicktoact", json.RawMessage(`{}`))
		errc <- err
	}()
	if got := read(t, ws); !strings.Contains(got, `"method":"cif.onclicktoact"`) {
		t.Fatalf("call as sent: %s", got)
	}
	ws.Close(4001, "widget unloading")
	err := <-errc
	if !errors.Is(err, rpcconn.ErrClosed) {
		t.Fatalf("err %v: not ErrClosed", err)
	}
	var ce *rpcconn.ClosedError
	if !errors.As(err, &ce) || websocket.CloseStatus(err) != 4001 || !strings.Contains(err.Error(), "widget unloading") {
		t.Fatalf("err %v (%T): want the read error, the peer's close 4001", err, err)
	}
	if errors.Is(err, rpcconn.ErrNotSent) {
		t.Fatal("a sent call reported as not sent")
	}
}

// TestSendAfterCloseRefused: what was queued before Close is written, then
// the close frame; a notification after Close is refused and never
// written; a call after Close is not sent.
func TestSendAfterCloseRefused(t *testing.T) {
	s := startServer(t, rpcconn.Options{}, 1<<20)
	ws, c := s.dial(t)
	for i := range 3 {
		if err := c.Notify("bridge.late", json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	c.Close(websocket.StatusGoingAway, "bye")
	if err := c.Notify("bridge.late", json.RawMessage(`{"n":"after"}`)); !errors.Is(err, rpcconn.ErrClosed) {
		t.Fatalf("Notify after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Call(context.Background(), "x", nil); !errors.Is(err, rpcconn.ErrNotSent) {
		t.Fatalf("Call after Close = %v, want ErrNotSent", err)
	}
	for i := range 3 {
		if got := read(t, ws); !strings.Contains(got, fmt.Sprintf(`{"n":%d}`, i)) {
			t.Fatalf("message %d: %s", i, got)
		}
	}
	if ce := readClose(t, ws); ce.Code != websocket.StatusGoingAway || ce.Reason != "bye" {
		t.Fatalf("close %v", ce)
	}
	if err := <-s.errs; err != nil {
		t.Fatalf("Run = %v, want nil for a 1001 close", err)
	}
}

// TestPipeliningReaderNotClosed: a client that reads while it pipelines
// 1 000 calls gets 1 000 answers, even when the writer falls behind (here
// it is held until every call was sent): 1 000 small answers are far below
// the byte budget (a 256-message queue closed such a client after ~600).
func TestPipeliningReaderNotClosed(t *testing.T) {
	const n = 1000
	var s *server
	var hold sync.Once
	s = startServer(t, rpcconn.Options{OnFrame: func(dir string, _ []byte) {
		if dir == "out" { // the first write waits until every call was served
			hold.Do(func() {
				for range n {
					<-s.h.echoed
				}
			})
		}
	}}, 1<<20)
	s.h.echoed = make(chan struct{}, n)
	ws, _ := s.dial(t)
	got := make(chan int, 1)
	go func() {
		seen := 0
		for seen < n {
			if _, _, err := ws.Read(context.Background()); err != nil {
				break
			}
			seen++
		}
		got <- seen
	}()
	for i := range n {
		write(t, ws, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo","params":[%d]}`, i, i))
	}
	if seen := <-got; seen != n {
		t.Fatalf("answers read: %d of %d", seen, n)
	}
}

// TestSendBudgetClosesNonReader: a client that never reads is closed with
// 1008 once its unwritten answers pass MaxSendBytes; the server's memory
// for it stays near the budget.
func TestSendBudgetClosesNonReader(t *testing.T) {
	s := startServer(t, rpcconn.Options{MaxSendBytes: 256 << 10}, 1<<20)
	ws, _ := s.dial(t)
	// 400 answers of 64 KiB: far more than the budget plus what loopback
	// socket buffers hold, all sent before the client reads anything.
	for range 400 {
		write(t, ws, `{"jsonrpc":"2.0","id":1,"method":"big","params":{"n":65536}}`)
	}
	ce := readClose(t, ws)
	if ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "not reading") {
		t.Fatalf("closed with %v, want 1008 not reading", ce)
	}
	if err := <-s.errs; err == nil || !strings.Contains(err.Error(), "1008") {
		t.Fatalf("Run = %v, want the 1008 close (one log line at the caller)", err)
	}
}

// TestOneBigAnswerAlwaysSent: an answer larger than the whole budget still
// goes out when nothing else waits; the peer is reading.
func TestOneBigAnswerAlwaysSent(t *testing.T) {
	s := startServer(t, rpcconn.Options{MaxSendBytes: 4096}, 1<<20)
	ws, _ := s.dial(t)
	write(t, ws, `{"jsonrpc":"2.0","id":1,"method":"big","params":{"n":100000}}`)
	if got := read(t, ws); len(got) < 100000 {
		t.Fatalf("answer of %d bytes", len(got))
	}
}

// recordingAdmit admits the first max messages and records the order it saw.
type recordingAdmit struct {
	mu    sync.Mutex
	order []string
	max   int
	open  int
}

func (a *recordingAdmit) admit(m *protocol.Message) (func(), *protocol.Error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.order = append(a.order, string(m.Params))
	if a.open >= a.max {
		return nil, protocol.Errorf(protocol.CodeOverloaded, "full")
	}
	a.open++
	return func() {
		a.mu.Lock()
		a.open--
		a.mu.Unlock()
	}, nil
}

// TestBatchAdmittedInOrderBeforeRunning: every item of a batch is admitted
// in order before any runs, so a 2 000-item batch of notifications gets the
// same result every time, and never more handlers than the admitter allows.
func TestBatchAdmittedInOrderBeforeRunning(t *testing.T) {
	for run := range 3 {
		a := &recordingAdmit{max: 10}
		s := startServer(t, rpcconn.Options{Admit: a.admit}, 8<<20)
		ws, _ := s.dial(t)
		var b strings.Builder
		b.WriteByte('[')
		for i := range 2000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","method":"echo","params":[%d]}`, i)
		}
		b.WriteString(`,{"jsonrpc":"2.0","id":"last","method":"echo","params":["req"]}]`)
		write(t, ws, b.String())
		got := read(t, ws) // the batch's one request, refused: the 10 slots are taken
		if !strings.Contains(got, `"id":"last","error":{"code":-32003`) {
			t.Fatalf("run %d: %s", run, got)
		}
		write(t, ws, `{"jsonrpc":"2.0","id":"sync","method":"echo"}`)
		read(t, ws)
		if n := s.h.notified.Load(); n != 10 {
			t.Fatalf("run %d: %d notifications ran, want exactly 10", run, n)
		}
		a.mu.Lock()
		for i := range 2000 {
			if a.order[i] != fmt.Sprintf("[%d]", i) {
				t.Fatalf("run %d: item %d admitted as %s", run, i, a.order[i])
			}
		}
		a.mu.Unlock()
	}
}

// TestShutdownAnswersThenCloses: Shutdown cancels running handlers, sends
// their answers, then the close frame.
func TestShutdownAnswersThenCloses(t *testing.T) {
	s := startServer(t, rpcconn.Options{}, 1<<20)
	ws, c := s.dial(t)
	write(t, ws, `{"jsonrpc":"2.0","id":"held","method":"block"}`)
	<-s.h.blocked
	go c.Shutdown(context.Background(), protocol.Errorf(protocol.CodeShuttingDown, "bye"), websocket.StatusGoingAway, "server shutting down")
	if got := read(t, ws); !strings.Contains(got, `"id":"held","error":{"code":-32007`) {
		t.Fatalf("answer: %s", got)
	}
	if ce := readClose(t, ws); ce.Code != websocket.StatusGoingAway {
		t.Fatalf("close %v", ce)
	}
}

// TestConcurrentUse drives calls, notifications, incoming traffic and a
// close at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	s := startServer(t, rpcconn.Options{}, 1<<20)
	ws, c := s.dial(t)
	go func() { // the client answers every call and reads everything
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			d := protocol.Decode(b)
			for _, m := range d.Messages {
				if m.Kind == protocol.KindRequest && m.Method == "ping" {
					ws.Write(context.Background(), websocket.MessageText, protocol.AppendResponse(nil, m.ID, json.RawMessage(`"pong"`), nil))
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				res, err := c.Call(context.Background(), "ping", nil)
				if err != nil {
					if !errors.Is(err, rpcconn.ErrClosed) {
						t.Errorf("call: %v", err)
					}
					return
				}
				if string(res) != `"pong"` {
					t.Errorf("result %s", res)
				}
				c.Notify("note", json.RawMessage(fmt.Sprintf("[%d]", i)))
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			ws.Write(context.Background(), websocket.MessageText, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo"}`, i)))
		}
	})
	wg.Wait()
	c.Close(websocket.StatusNormalClosure, "")
	<-s.errs
	if err := c.Notify("late", nil); !errors.Is(err, rpcconn.ErrClosed) {
		t.Fatalf("Notify after the end = %v", err)
	}
}
