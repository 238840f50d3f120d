package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// listingBackend is a prompt backend that answers at once and notes
// whether its attempt was listed in flight while it ran.
type listingBackend struct {
	table  func() *correlation.Table
	listed []bool
}

func (b *listingBackend) Name() string              { return "listing" }
func (b *listingBackend) Prompt(method string) bool { return true }

func (b *listingBackend) Begin(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
	res, err := b.Execute(ctx, a)
	return res, err, nil
}

func (b *listingBackend) Execute(_ context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	listed := false
	for _, i := range b.table().InFlight(a.Session) {
		listed = listed || i.ID == a.ID
	}
	b.listed = append(b.listed, listed)
	return json.RawMessage(`{"id":"1"}`), nil
}

// With capture on, a call the backend answers at once is registered while
// the backend runs (capture keeps a session's file open for its pending
// attempts, capture.PendingAttempts), and both its backend frames are
// captured; with capture off it is not registered (correlation.DoBegin).
func TestCaptureRegistersAttemptsAnsweredAtOnce(t *testing.T) {
	for _, capture := range []bool{false, true} {
		b := &listingBackend{}
		var mu sync.Mutex
		var frames []string
		cfg := Config{Backend: b}
		if capture {
			cfg.OnFrame = func(session, peer, dir string, msg []byte) {
				mu.Lock()
				frames = append(frames, peer+" "+dir)
				mu.Unlock()
			}
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b.table = s.Table
		wc := &widgetConn{s: s, logs: logcap.NewSampler(logSampleInterval)}
		wc.sess.Store(s.sessions.open(protocol.ProfileCIF2, 10*time.Second, nil))
		m := &protocol.Message{Kind: protocol.KindRequest, ID: json.RawMessage("1"), Method: protocol.MethodCreateRecord,
			Params: json.RawMessage(`{"entityName":"contact","value":{"firstname":"Aino"}}`), Received: time.Now()}
		if !wc.inline(m) {
			t.Fatal("a createrecord on a prompt backend is not served on the reader")
		}
		if _, err := wc.HandleCall(context.Background(), nil, m); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := frames
		mu.Unlock()
		if len(b.listed) != 1 || b.listed[0] != capture {
			t.Errorf("capture %v: listed in flight while the backend ran: %v, want %v", capture, b.listed, capture)
		}
		if capture && (len(got) != 2 || got[0] != "backend out" || got[1] != "backend in") {
			t.Errorf("captured frames %v, want the backend's out and in", got)
		}
		_ = s.Shutdown(context.Background())
	}
}

// elsewhereBackend answers like a cluster node's backend whose late answer
// another node delivers (the session moved there): ErrElsewhere, with the
// answer the backend really gave.
type elsewhereBackend struct{ ea *correlation.ElsewhereAnswer }

func (b elsewhereBackend) Name() string { return "elsewhere" }
func (b elsewhereBackend) Execute(context.Context, *correlation.Attempt) (json.RawMessage, error) {
	return nil, b.ea
}

// The capture of a session that moved to another node records the late
// answer the backend gave, which that node delivers: before, it recorded
// ErrElsewhere as {"code":-32603,"message":"internal error"}, so the
// capture said the emulator had failed a create it had made.
func TestCaptureRecordsTheAnswerDeliveredElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name string
		ea   *correlation.ElsewhereAnswer
		want string
	}{
		{"success", &correlation.ElsewhereAnswer{Result: json.RawMessage(`{"entityType":"contact","id":"rec-9"}`)},
			`{"jsonrpc":"2.0","id":"at-1","result":{"entityType":"contact","id":"rec-9"}}`},
		{"failure", &correlation.ElsewhereAnswer{Err: protocol.NewError(protocol.CodeBackend, "Does Not Exist", nil)},
			`{"jsonrpc":"2.0","id":"at-1","error":{"code":-32001,"message":"Does Not Exist"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []string
			s, err := New(Config{Backend: elsewhereBackend{tc.ea}, OnFrame: func(_, peer, dir string, msg []byte) {
				if peer == protocol.CapturePeerBackend && dir == "in" {
					in = append(in, string(msg))
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			a := &correlation.Attempt{ID: "at-1", Kind: correlation.KindBackend, Session: "s-1", Method: protocol.MethodCreateRecord,
				Params: json.RawMessage(`{"entityName":"contact","value":{}}`)}
			if _, err := s.executeOn(context.Background(), a, elsewhereBackend{tc.ea}); !errors.Is(err, correlation.ErrElsewhere) {
				t.Fatalf("executeOn: %v, want ErrElsewhere for the table", err)
			}
			if len(in) != 1 || in[0] != tc.want {
				t.Fatalf("captured backend answer %q, want %s", in, tc.want)
			}
		})
	}
}
