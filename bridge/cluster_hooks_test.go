package bridge_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// Config.ResumeElsewhere and Server.ReleaseSession, wired directly between
// two bridges (a cluster does it over NATS): a widget resumes on B the
// session it holds on A; A checks the token, forgets the session and closes
// its socket with 4001; B holds it with the same id and token.
func TestResumeElsewhereMovesTheSession(t *testing.T) {
	a := startBridge(t, bridge.Config{})
	var calls int
	b := startBridge(t, bridge.Config{ResumeElsewhere: func(ctx context.Context, session, token string) (bool, error) {
		calls++
		return a.srv.ReleaseSession(session, token)
	}})
	wa := a.dial(t, protocol.PathWidget, nil)
	h := hello(t, wa)

	wb := b.dial(t, protocol.PathWidget, nil)
	wantCode(t, wb.call(protocol.MethodHello, map[string]any{"session": h.Session, "resumeToken": "wrong"}), protocol.CodeUnauthorized)
	if a.srv.Session(h.Session) == nil {
		t.Fatal("a refused move took the session off A")
	}

	var moved protocol.HelloResult
	okResult(t, wb.call(protocol.MethodHello, map[string]any{"session": h.Session, "resumeToken": h.ResumeToken}), &moved)
	if moved.Session != h.Session || moved.ResumeToken != h.ResumeToken || !moved.Resumed {
		t.Fatalf("moved session: %+v", moved)
	}
	wa.closed(protocol.CloseSessionMoved)
	if a.srv.Session(h.Session) != nil || b.srv.Session(h.Session) == nil {
		t.Fatal("the session is not on B alone")
	}
	// Resuming again on B is B's own business: the hook is not asked.
	before := calls
	wb2 := b.dial(t, protocol.PathWidget, nil)
	okResult(t, wb2.call(protocol.MethodHello, map[string]any{"session": h.Session, "resumeToken": h.ResumeToken}), nil)
	if calls != before {
		t.Fatal("ResumeElsewhere asked for a session this node holds")
	}
}

// Config.EventFallback raises events of sessions this node does not hold;
// Config.HostFallback executes calls no local host peer serves.
func TestClusterFallbacks(t *testing.T) {
	var asked string
	b := startBridge(t, bridge.Config{HostBackend: true,
		HostFallback: backend.Func{N: "cluster-host", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			return json.Marshal("elsewhere " + a.Session)
		}},
		EventFallback: func(ctx context.Context, session, eventType string, data json.RawMessage) (json.RawMessage, error) {
			asked = session + " " + eventType
			return json.RawMessage(`"elsewhere"`), nil
		}})
	res, err := b.srv.RaiseEvent(context.Background(), "s00000000000000000000", "onclicktoact", nil)
	if err != nil || string(res) != `"elsewhere"` || asked != "s00000000000000000000 onclicktoact" {
		t.Fatalf("event for a session elsewhere: %s, %v (asked %q)", res, err, asked)
	}
	if _, err := b.srv.RaiseLocalEvent(context.Background(), "s00000000000000000000", "onclicktoact", nil); err == nil {
		t.Fatal("RaiseLocalEvent used the fallback")
	}

	w := b.dial(t, protocol.PathWidget, nil)
	h := hello(t, w)
	var got string
	okResult(t, w.call("cif.createrecord", map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "Ada"}}), &got)
	if got != "elsewhere "+h.Session {
		t.Fatalf("call with no local host peer: %q", got)
	}
	if _, err := b.srv.LocalHosts().Execute(context.Background(), &correlation.Attempt{Session: h.Session, Method: "cif.createrecord"}); err == nil {
		t.Fatal("LocalHosts used the fallback")
	}
}

// Config.OnHello hears every hello with the token the widget gets; a late
// answer another node stored reaches the session through DeliverLate as
// bridge.late, and the HandleLate hook (the retry engine) hears it too.
func TestOnHelloAndDeliverLate(t *testing.T) {
	var hellos []bridge.Hello
	b := startBridge(t, bridge.Config{OnHello: func(ctx context.Context, h bridge.Hello) error {
		hellos = append(hellos, h)
		return nil
	}})
	var adopted []correlation.Late
	b.srv.HandleLate(func(l correlation.Late) { adopted = append(adopted, l) })
	w := b.dial(t, protocol.PathWidget, nil)
	var hello protocol.HelloResult
	okResult(t, w.call(protocol.MethodHello, map[string]any{"profile": "cif2"}), &hello)
	if len(hellos) != 1 || hellos[0].Session != hello.Session || hellos[0].ResumeToken != hello.ResumeToken || hellos[0].Profile != "cif2" || hellos[0].Resumed {
		t.Fatalf("OnHello heard %+v, want the new session %s with its token", hellos, hello.Session)
	}
	w2 := b.dial(t, protocol.PathWidget, nil)
	okResult(t, w2.call(protocol.MethodHello, map[string]any{"session": hello.Session, "resumeToken": hello.ResumeToken}), nil)
	if len(hellos) != 2 || !hellos[1].Resumed || hellos[1].Session != hello.Session {
		t.Fatalf("OnHello on resume: %+v", hellos)
	}

	l := correlation.Late{Info: correlation.Info{Attempt: correlation.Attempt{ID: "at-elsewhere", Kind: correlation.KindBackend,
		Session: hello.Session, Method: "cif.createrecord", RequestID: json.RawMessage(`5`)}, State: protocol.AttemptTimedOut},
		Result: json.RawMessage(`{"id":"r"}`), LateBy: 3 * time.Second}
	if b.srv.DeliverLate(correlation.Late{Info: correlation.Info{Attempt: correlation.Attempt{Session: "s-not-here"}}}) {
		t.Fatal("DeliverLate for a session not held here")
	}
	if !b.srv.DeliverLate(l) {
		t.Fatal("DeliverLate refused a session held here")
	}
	n := w2.recvReply()
	var p protocol.LateParams
	if n.Method != protocol.NotifyLate || json.Unmarshal(n.Params, &p) != nil || p.AttemptID != "at-elsewhere" ||
		p.Outcome != protocol.OutcomeSuccess || string(p.RequestID) != "5" || p.LateByMs != 3000 {
		t.Fatalf("widget got %+v, want bridge.late for at-elsewhere", n)
	}
	if len(adopted) != 1 || adopted[0].Info.ID != "at-elsewhere" {
		t.Fatalf("HandleLate heard %+v", adopted)
	}
}
