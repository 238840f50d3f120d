package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// The attempt crosses the router whole: id, session, method, raw params,
// the widget request, the timeout and (as a duration) the deadline; the
// answer and the backend's JSON-RPC errors come back unchanged.
func TestBackendCarriesTheAttempt(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		got := make(chan correlation.Attempt, 1)
		be := backend.Func{N: "emulator", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			got <- *a
			if a.Method == "cif.deleterecord" {
				return nil, protocol.NewError(protocol.CodeBackend, "record not found", map[string]any{"status": 404})
			}
			return json.RawMessage(`{"id":"r1"}`), nil
		}}
		serveOnC(t, server, be, wait)
		cb := &cluster.Backend{Router: caller, Node: "A"}
		deadline := time.Now().Add(10 * time.Second)
		a := &correlation.Attempt{ID: "a1", Session: "s00ff", Method: "cif.createrecord",
			Params: json.RawMessage(`{"entityName":"contact","data":{"firstname":"Ada"}}`), RequestID: json.RawMessage(`7`),
			WidgetMethod: "enreach.xrm.createRecord", Timeout: 10 * time.Second, Deadline: deadline}
		res, err := cb.Execute(callCtx(t), a)
		if err != nil {
			t.Fatal(err)
		}
		if string(res) != `{"id":"r1"}` {
			t.Fatalf("result %s", res)
		}
		in := <-got
		if in.ID != "a1" || in.Session != "s00ff" || in.Method != "cif.createrecord" || string(in.RequestID) != "7" ||
			in.WidgetMethod != "enreach.xrm.createRecord" || in.Timeout != 10*time.Second || in.Kind != correlation.KindBackend {
			t.Fatalf("attempt arrived as %+v", in)
		}
		if string(in.Params) != string(a.Params) {
			t.Fatalf("params arrived as %s", in.Params)
		}
		if d := in.Deadline.Sub(deadline); d < -time.Second || d > time.Second {
			t.Fatalf("deadline arrived %v off", d)
		}

		a.Method = "cif.deleterecord"
		_, err = cb.Execute(callCtx(t), a)
		<-got
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeBackend || pe.Message != "record not found" || string(pe.Data) != `{"status":404}` {
			t.Fatalf("error came back as %v", err)
		}
	})
}

// Typed params (no raw form) are encoded for the trip.
func TestBackendEncodesTypedParams(t *testing.T) {
	r := cluster.NewLocal()
	got := make(chan json.RawMessage, 1)
	stop, err := cluster.ServeBackend(context.Background(), r, cluster.BackendService, "C", backend.Func{N: "x", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
		got <- a.Params
		return json.RawMessage(`true`), nil
	}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cb := &cluster.Backend{Router: r}
	if _, err := cb.Execute(callCtx(t), &correlation.Attempt{Method: "cif.retrieverecord", Typed: &protocol.RetrieveRecordParams{EntityName: "contact", EntityID: "1"}}); err != nil {
		t.Fatal(err)
	}
	var p protocol.RetrieveRecordParams
	if err := json.Unmarshal(<-got, &p); err != nil || p.EntityName != "contact" || p.EntityID != "1" {
		t.Fatalf("typed params arrived as %+v (%v)", p, err)
	}
}

// Nobody serving the backend: -32002, delivered false, at once (the
// call's context has a minute left), and /readyz's Check fails.
func TestBackendNoServer(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		cb := &cluster.Backend{Router: caller}
		_, err := cb.Execute(callCtx(t), &correlation.Attempt{ID: "a1", Method: "cif.createrecord", Params: json.RawMessage(`{}`), Timeout: 10 * time.Second})
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeNoBackend || string(pe.Data) != `{"delivered":false}` {
			t.Fatalf("got %v, want -32002 delivered false", err)
		}
		var ce *backend.CheckError
		if err := cb.Check(callCtx(t)); !errors.As(err, &ce) {
			t.Fatalf("Check: %v, want a CheckError", err)
		}
	})
}

// One backend per service in the cluster: a second node is refused, with
// the first one's name; Check passes once it is served.
func TestServeBackendRefusesASecondNode(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		be := backend.Func{N: "emulator", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) { return nil, nil }}
		serveOnC(t, server, be, wait)
		_, err := cluster.ServeBackend(context.Background(), caller, cluster.BackendService, "A", be, zerolog.Nop())
		if !errors.Is(err, cluster.ErrAlreadyServed) {
			t.Fatalf("second ServeBackend: %v, want ErrAlreadyServed", err)
		}
		if want := `node "C"`; !contains(err.Error(), want) {
			t.Fatalf("refusal %q does not name %s", err, want)
		}
		if err := (&cluster.Backend{Router: caller}).Check(callCtx(t)); err != nil {
			t.Fatalf("Check with a server: %v", err)
		}
	})
}

// An answer after the CIF deadline still comes back (the bridge's table
// turns it into a late record): the exec ctx has no deadline, so the
// call waits for the late window, not the CIF timeout.
func TestBackendLateAnswerComesBack(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		be := backend.Func{N: "slow", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			select {
			case <-time.After(time.Until(a.Deadline) + 50*time.Millisecond):
				return json.RawMessage(`"late"`), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}}
		serveOnC(t, server, be, wait)
		cb := &cluster.Backend{Router: caller, LateWindow: time.Minute}
		now := time.Now()
		res, err := cb.Execute(context.Background(), &correlation.Attempt{Method: "cif.createrecord", Params: json.RawMessage(`{}`),
			Timeout: 100 * time.Millisecond, Started: now, Deadline: now.Add(100 * time.Millisecond)})
		if err != nil || string(res) != `"late"` {
			t.Fatalf("late answer: %s, %v", res, err)
		}
	})
}

// An answerer refuses a request it cannot read or of another version.
func TestServeBackendRefusesBadRequests(t *testing.T) {
	r := cluster.NewLocal()
	stop, err := cluster.ServeBackend(context.Background(), r, cluster.BackendService, "C", backend.Func{N: "x", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
		t.Error("a bad request was executed")
		return nil, nil
	}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, in := range []string{`not json`, `{"v":2,"method":"cif.createrecord"}`, `{"v":1}`} {
		out, err := r.Call(callCtx(t), cluster.BackendService, []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Node  string          `json:"node"`
			Error *protocol.Error `json:"error"`
		}
		if err := json.Unmarshal(out, &rep); err != nil || rep.Error == nil || rep.Error.Code != protocol.CodeInvalidRequest || rep.Node != "C" {
			t.Errorf("%s answered %s", in, out)
		}
	}
}

// serveOnC serves be as the backend on server's side (node "C") until the
// test ends, and returns once the caller's side sees it (wait).
func serveOnC(t *testing.T, server cluster.Router, be backend.Backend, wait func(string, int)) {
	t.Helper()
	stop, err := cluster.ServeBackend(context.Background(), server, cluster.BackendService, "C", be, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	wait(cluster.BackendService, 1)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// forgetful is a backend with per-session state.
type forgetful struct {
	backend.Func
	forgot chan string
}

func (f forgetful) ForgetSession(session string) { f.forgot <- session }

// A session's end on the caller's node reaches the serving node's backend,
// so its per-session state does not outlive the session there.
func TestBackendForgetSession(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		be := forgetful{Func: backend.Func{N: "emulator", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			t.Error("a forget executed an attempt")
			return nil, nil
		}}, forgot: make(chan string, 1)}
		serveOnC(t, server, be, wait)
		if err := (&cluster.Backend{Router: caller, Node: "A"}).ForgetSession("s0abc"); err != nil {
			t.Fatal(err)
		}
		if got := <-be.forgot; got != "s0abc" {
			t.Fatalf("forgot %q", got)
		}
	})
}

// Two nodes that start serving the backend in the same instant: exactly
// one keeps it (when both got past the probe, the one whose id sorts
// first), the other is refused.
func TestServeBackendSimultaneousStart(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		be := backend.Func{N: "emulator", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			return json.RawMessage(`1`), nil
		}}
		type result struct {
			node string
			stop func()
			err  error
		}
		results := make(chan result, 2)
		start := make(chan struct{})
		for _, n := range []struct {
			r    cluster.Router
			node string
		}{{caller, "A"}, {server, "C"}} {
			go func() {
				<-start
				stop, err := cluster.ServeBackend(context.Background(), n.r, cluster.BackendService, n.node, be, zerolog.Nop())
				results <- result{n.node, stop, err}
			}()
		}
		close(start)
		var won []string
		for range 2 {
			r := <-results
			if r.err == nil {
				won = append(won, r.node)
				defer r.stop()
			} else if !errors.Is(r.err, cluster.ErrAlreadyServed) {
				t.Fatalf("%s: %v", r.node, r.err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("serving after a simultaneous start: %v, want one node", won)
		}
	})
}

// Metrics count each call by kind and outcome.
func TestBackendMetrics(t *testing.T) {
	r := cluster.NewLocal()
	m := cluster.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	cb := &cluster.Backend{Router: r, Metrics: m}
	a := &correlation.Attempt{Method: "cif.createrecord", Params: json.RawMessage(`{}`), Timeout: time.Second}
	if _, err := cb.Execute(callCtx(t), a); err == nil {
		t.Fatal("no server: no error")
	}
	stop, err := cluster.ServeBackend(context.Background(), r, cluster.BackendService, "C", backend.Func{N: "x", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
		if a.Method == "cif.deleterecord" {
			return nil, protocol.NewError(protocol.CodeBackend, "not found", nil)
		}
		return json.RawMessage(`1`), nil
	}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cb.Execute(callCtx(t), a)
	cb.Execute(callCtx(t), a)
	cb.Execute(callCtx(t), &correlation.Attempt{Method: "cif.deleterecord", Params: json.RawMessage(`{}`), Timeout: time.Second})
	want := `
# HELP cifbridge_cluster_calls_total Calls sent to other nodes of the cluster, by kind (backend, host, event) and outcome (ok, error, no_responders, timeout, lost).
# TYPE cifbridge_cluster_calls_total counter
cifbridge_cluster_calls_total{kind="backend",outcome="error"} 1
cifbridge_cluster_calls_total{kind="backend",outcome="no_responders"} 1
cifbridge_cluster_calls_total{kind="backend",outcome="ok"} 2
`
	if err := promtestutil.GatherAndCompare(reg, strings.NewReader(want), "cifbridge_cluster_calls_total"); err != nil {
		t.Fatal(err)
	}
}
