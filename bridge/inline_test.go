package bridge_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// onReader is the emulator as a backend.Prompt that notes, for each
// attempt Begin runs, whether it runs on the widget connection's reader,
// and that can be made slow (slowBegin) to break its promise.
type onReader struct {
	*emulator.Emulator
	mu        sync.Mutex
	reader    map[string]bool // method → its last Begin ran on the reader
	slowBegin time.Duration
}

func (b *onReader) Begin(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	b.mu.Lock()
	b.reader[a.Method] = strings.Contains(string(buf), "rpcconn.(*Conn).readLoop")
	slow := b.slowBegin
	b.mu.Unlock()
	time.Sleep(slow)
	return b.Emulator.Begin(ctx, a)
}

func (b *onReader) ranOnReader(method string) (ran, onReader bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	onReader, ran = b.reader[method]
	return ran, onReader
}

// A CIF call the emulator answers at once runs on the reader; one it may
// not (a search, or any call while a fault rule may delay it) runs on a
// goroutine of its own and keeps the exact CIF timeout.
func TestPromptCallsRunOnTheReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu, err := emulator.New(emulator.Config{})
		if err != nil {
			t.Fatal(err)
		}
		be := &onReader{Emulator: emu, reader: map[string]bool{}}
		_, ws, _ := serveInBubble(t, bridge.Config{Backend: be})

		ws.send(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Ada"}}}`)
		if r := ws.recvReply(); r.Error != nil || len(r.Result) == 0 {
			t.Fatalf("create: %+v", r)
		}
		if ran, reader := be.ranOnReader(protocol.MethodCreateRecord); !ran || !reader {
			t.Errorf("create ran %v, on the reader %v; want on the reader", ran, reader)
		}
		ws.send(`{"jsonrpc":"2.0","id":2,"method":"cif.search","params":{"entityName":"contact","queryParameters":"?$select=firstname"}}`)
		if r := ws.recvReply(); r.Error != nil {
			t.Fatalf("search: %+v", r)
		}
		if ran, reader := be.ranOnReader(protocol.MethodSearch); !ran || reader {
			t.Errorf("search ran %v, on the reader %v; want on a goroutine of its own", ran, reader)
		}

		// A latency rule from now on: creates leave the reader, and the
		// CIF timeout is exact again (the default profile's 10 s).
		if err := emu.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 12_000, Count: 1}}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ws.send(`{"jsonrpc":"2.0","id":3,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Late"}}}`)
		r := ws.recvReply()
		if r.Error == nil || r.Error.Code != protocol.CodeTimeout || time.Since(start) != 10*time.Second {
			t.Fatalf("delayed create: %+v after %v, want -32000 after exactly 10s", r, time.Since(start))
		}
		if ran, reader := be.ranOnReader(protocol.MethodCreateRecord); !ran || reader {
			t.Errorf("delayed create on the reader %v; want on a goroutine of its own", reader)
		}
		if late := ws.recvReply(); late.Method != protocol.NotifyLate || time.Since(start) != 12*time.Second {
			t.Fatalf("late answer %s after %v", late.Method, time.Since(start))
		}
	})
}

// A prompt backend that breaks its promise and answers after the CIF
// deadline still gets no answer passed off as in time: the widget gets the
// -32000 (when the reader is free again) and the answer comes as
// bridge.late, reported on a goroutine of its own as for any late answer,
// so the two may come in either order.
func TestPromptAnswerPastTheDeadlineIsLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu, err := emulator.New(emulator.Config{})
		if err != nil {
			t.Fatal(err)
		}
		be := &onReader{Emulator: emu, reader: map[string]bool{}, slowBegin: 12 * time.Second}
		_, ws, _ := serveInBubble(t, bridge.Config{Backend: be, Timeout: 10 * time.Second})
		start := time.Now()
		ws.send(`{"jsonrpc":"2.0","id":7,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Slow"}}}`)
		var r, late reply
		for range 2 {
			if m := ws.recvReply(); m.Method == protocol.NotifyLate {
				late = m
			} else {
				r = m
			}
		}
		if r.Error == nil || r.Error.Code != protocol.CodeTimeout || string(r.ID) != "7" {
			t.Fatalf("reply = %+v, want -32000", r)
		}
		if got := time.Since(start); got != 12*time.Second {
			t.Errorf("answered after %v, want when the backend answered (12s)", got)
		}
		var lp protocol.LateParams
		if err := json.Unmarshal(late.Params, &lp); err != nil || lp.Outcome != protocol.OutcomeSuccess || lp.LateByMs != 2000 || string(lp.RequestID) != "7" {
			t.Fatalf("bridge.late = %s %s", late.Method, late.Params)
		}
		// The call went unnamed until it was late: the -32000 and the
		// bridge.late name the same attempt.
		var td protocol.TimeoutData
		if err := json.Unmarshal(r.Error.Data, &td); err != nil || td.AttemptID == "" || td.AttemptID != lp.AttemptID {
			t.Fatalf("-32000 data %s, bridge.late attempt %q; want one name in both", r.Error.Data, lp.AttemptID)
		}
	})
}
