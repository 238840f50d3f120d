package bridge

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/internal/wstest"
	"github.com/cifbridge/cifbridge/protocol"
)

// The hops of one widget round trip, each on its own, with the same frame
// as BenchmarkRoundTrip (bench_test.go): their allocs/op add up to the
// server's share of a round trip's ("handle" runs the reader's hops
// together: not one more to add). Run with
//
//	go test -run '^$' -bench 'Hop|RoundTrip$' -benchmem ./bridge/

const hopContact = `{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}}`

var hopFrame = []byte(`{"jsonrpc":"2.0","id":17,"method":"cif.createrecord","params":` + hopContact + `}`)

// emulatorServer is a Server on the default emulator, shut down when tb
// ends (for the in-package tests and benchmarks that drive its parts
// directly, without a socket).
func emulatorServer(tb testing.TB) (*Server, *emulator.Emulator) {
	tb.Helper()
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{Backend: emu})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, emu
}

func hopAttempt(b *testing.B) correlation.Attempt {
	b.Helper()
	m := protocol.Decode(hopFrame).Messages[0]
	params, typed, err := validateCIF(m.Method, m.Params)
	if err != nil {
		b.Fatal(err)
	}
	return correlation.Attempt{RequestID: m.ID, Method: m.Method, Params: params, Typed: typed, Session: "hop",
		Kind: correlation.KindBackend, Timeout: 10 * time.Second, Started: time.Now(), Deadline: time.Now().Add(10 * time.Second)}
}

// hopConn is a widget connection, without a socket, to an emulatorServer
// with one cif2 session.
func hopConn(b *testing.B) *widgetConn {
	b.Helper()
	s, _ := emulatorServer(b)
	wc := &widgetConn{s: s, logs: logcap.NewSampler(logSampleInterval)}
	wc.sess.Store(s.sessions.open(protocol.ProfileCIF2, 10*time.Second, nil))
	return wc
}

func BenchmarkHop(b *testing.B) {
	// decode: the frame into its message (the reader's protocol.Decode).
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d := protocol.Decode(hopFrame); len(d.Messages) != 1 || d.Messages[0].Kind != protocol.KindRequest {
				b.Fatal("not a request")
			}
		}
	})
	// params: validateCIF's strict decode into the typed struct the
	// backend uses.
	b.Run("params", func(b *testing.B) {
		m := protocol.Decode(hopFrame).Messages[0]
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := validateRequest(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	// admission: the widget connection's admit and its release.
	b.Run("admission", func(b *testing.B) {
		wc := hopConn(b)
		m := protocol.Decode(hopFrame).Messages[0]
		b.ReportAllocs()
		for b.Loop() {
			release, rejected := wc.admit(&m)
			if rejected != nil {
				b.Fatal(rejected)
			}
			release()
		}
	})
	// correlation: the table's Do around an exec that answers at once.
	// correlationBegin: its DoBegin around a begin that answers at once,
	// the path of a call the emulator promises (backend.Prompt): no
	// goroutine and no timer.
	res := []byte(`{"entityType":"contact","id":"00000000-0000-0000-0000-000000000000"}`)
	var exec correlation.Exec = func(context.Context, *correlation.Attempt) (json.RawMessage, error) { return res, nil }
	var begin correlation.Begin = func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
		return res, nil, nil
	}
	for _, bc := range []struct {
		name string
		do   func(*correlation.Table, correlation.Attempt) error
	}{
		{"correlation", func(tab *correlation.Table, a correlation.Attempt) error {
			_, _, err := tab.Do(context.Background(), a, exec)
			return err
		}},
		{"correlationBegin", func(tab *correlation.Table, a correlation.Attempt) error {
			_, _, err := tab.DoBegin(context.Background(), a, begin)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tab := correlation.New(correlation.Config{})
			defer func() { _ = tab.Close(context.Background()) }()
			a := hopAttempt(b)
			a.ID = ""
			b.ReportAllocs()
			for b.Loop() {
				a.Started = time.Time{}
				if err := bc.do(tab, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// emulatorCreate: the emulator's Execute of the decoded attempt.
	b.Run("emulatorCreate", func(b *testing.B) {
		_, emu := emulatorServer(b)
		a := hopAttempt(b)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := emu.Execute(ctx, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
	// handle: the reader's work for one call between the socket's read and
	// write: decode, admission, the inline check, HandleCall (the params
	// check, the correlation table, the emulator's create, the metrics),
	// the release.
	b.Run("handle", func(b *testing.B) {
		wc := hopConn(b)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			m := &protocol.Decode(hopFrame).Messages[0]
			m.Received = time.Now()
			release, rejected := wc.admit(m)
			if rejected != nil || !wc.inline(m) {
				b.Fatal("refused, or not served on the reader:", rejected)
			}
			if _, err := wc.HandleCall(ctx, nil, m); err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
	// encode: the answer frame.
	b.Run("encode", func(b *testing.B) {
		id := []byte("17")
		res := []byte(`{"entityType":"contact","id":"8b1f3c5e-2d4a-4f6b-9c8d-7e6f5a4b3c2d"}`)
		b.ReportAllocs()
		for b.Loop() {
			if len(protocol.AppendResponse(nil, id, res, nil)) == 0 {
				b.Fatal("empty")
			}
		}
	})
	// write: one answer frame written to a loopback WebSocket whose peer
	// reads it (the library and the syscall, as the bridge's writer does).
	b.Run("write", func(b *testing.B) {
		ws, peer := wstest.Pair(b, nil)
		go func() {
			for {
				_, r, err := peer.Reader(context.Background())
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					return
				}
			}
		}()
		frame := protocol.AppendResponse(nil, []byte("17"), []byte(`{"entityType":"contact","id":"8b1f3c5e-2d4a-4f6b-9c8d-7e6f5a4b3c2d"}`), nil)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}
