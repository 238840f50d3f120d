package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/bridge/cluster/clustertest"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// durableTopologies are the JetStream set-ups the registry and the late
// answers hold for: one embedded server, and three embedded servers
// clustered on loopback (R3). Each returns one JetStream connection per
// node (A, B, C); with one server they share it.
var durableTopologies = []struct {
	name  string
	build func(t *testing.T) []*cluster.Durable
}{
	{"nats-one-server", func(t *testing.T) []*cluster.Durable {
		e := startServer(t, cluster.EmbedConfig{Name: "solo", JetStream: true, StoreDir: t.TempDir()})
		d := openDurable(t, e, "solo", 1)
		return []*cluster.Durable{d, d, d}
	}},
	{"nats-three-servers", func(t *testing.T) []*cluster.Durable {
		nodes := startJetStreamCluster(t, 3)
		var out []*cluster.Durable
		for i, e := range nodes {
			out = append(out, openDurable(t, e, fmt.Sprintf("n%d", i), 3))
		}
		return out
	}},
}

// startJetStreamCluster is clustertest.JetStream, shut down at the
// test's end.
func startJetStreamCluster(t *testing.T, n int) []*cluster.Embedded {
	nodes := clustertest.JetStream(t, n, t.TempDir)
	for _, e := range nodes {
		t.Cleanup(e.Shutdown)
	}
	return nodes
}

// connectJetStream connects to e as name, until the test ends.
func connectJetStream(t *testing.T, e *cluster.Embedded, name string) jetstream.JetStream {
	t.Helper()
	nc, err := e.Connect(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// openDurable connects to e and opens the durable state, retrying while
// the cluster's JetStream elects its leader.
func openDurable(t *testing.T, e *cluster.Embedded, name string, replicas int) *cluster.Durable {
	t.Helper()
	js := connectJetStream(t, e, name)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d, err := cluster.OpenDurable(ctx, js, cluster.DurableConfig{Replicas: replicas, SessionTTL: time.Minute, LateMaxAge: time.Minute})
		cancel()
		if err == nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("open the durable state on %s: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Three nodes of a fresh cluster open the durable state at the same
// moment, as three `cifbridge serve` started together do: each open is
// answered (before, a concurrent create was answered only by the
// caller's timeout, so serve's first opens all failed and the registry
// came up about 40 s after the cluster).
func TestOpenDurableConcurrentlyOnAFreshCluster(t *testing.T) {
	nodes := startJetStreamCluster(t, 3)
	var js []jetstream.JetStream
	for i, e := range nodes {
		js = append(js, connectJetStream(t, e, fmt.Sprintf("n%d", i)))
	}
	// Wait for the meta leader: an account info answers once there is one.
	for deadline := time.Now().Add(30 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js[0].AccountInfo(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JetStream meta leader: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cfg := cluster.DurableConfig{Replicas: 3, SessionTTL: time.Minute, LateMaxAge: time.Minute}
	var wg sync.WaitGroup
	errs := make([]error, len(js))
	for i := range js {
		wg.Go(func() {
			// A generous bound: the open takes well under a second here.
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			_, errs[i] = cluster.OpenDurable(ctx, js[i], cfg)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open on n%d: %v", i, err)
		}
	}
}

// replicated waits, within 5 s, for done to hold, and fails with what
// otherwise. The registry's reads are direct gets, which any replica may
// answer: on three servers one that has not applied a write yet can show
// the key as it was for a moment (writes are compare-and-set on the
// leader, so nothing acts on such a read). A write must reach every
// replica, within a bound.
func replicated(t *testing.T, what string, done func() bool) {
	t.Helper()
	for until := time.Now().Add(5 * time.Second); !done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(until) {
			t.Fatal(what)
		}
	}
}

func forEachDurable(t *testing.T, f func(t *testing.T, nodes []*cluster.Durable)) {
	for _, top := range durableTopologies {
		t.Run(top.name, func(t *testing.T) { f(t, top.build(t)) })
	}
}

func registry(d *cluster.Durable, node string, release func(ctx context.Context, node, session, token string) (bool, error)) *cluster.Registry {
	return &cluster.Registry{KV: d.Sessions, Node: node, ReleaseOn: release, Log: zerolog.Nop()}
}

func TestRegistryMovesASessionFromADeadOwner(t *testing.T) {
	forEachDurable(t, func(t *testing.T, nodes []*cluster.Durable) {
		ctx := callCtx(t)
		// A's release service is gone (kill -9): the router answers no
		// responders, which ReleaseOn turns into found false.
		var released []string
		dead := func(_ context.Context, node, session, _ string) (bool, error) {
			released = append(released, node+"/"+session)
			return false, nil
		}
		a, b := registry(nodes[0], "A", dead), registry(nodes[1], "B", dead)
		const token = "0123456789abcdef0123456789abcdef"
		if err := a.Register(ctx, "s1", token, "cif1"); err != nil {
			t.Fatal(err)
		}
		e, err := nodes[2].Sessions.Get(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(e.Value()), token) || !strings.Contains(string(e.Value()), cluster.TokenHash(token)) {
			t.Fatalf("registry record %s: want the token's hash, never the token", e.Value())
		}

		// A wrong token is the single-node -32004; an unknown session is
		// not found (a new session with that id, as on one node).
		_, err = b.Resume(ctx, "s1", "wrong")
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeUnauthorized || pe.Message != protocol.NewResumeRefusedError("s1").Message {
			t.Fatalf("resume with a wrong token: %v, want the single-node -32004", err)
		}
		if found, err := b.Resume(ctx, "nosuch", token); found || err != nil {
			t.Fatalf("resume of an unknown session: %v %v, want not found", found, err)
		}
		if rec, _, _ := b.Lookup(ctx, "s1"); rec.Node != "A" {
			t.Fatalf("owner after refused resumes: %q, want A", rec.Node)
		}

		found, err := b.Resume(ctx, "s1", token)
		if !found || err != nil {
			t.Fatalf("resume on B with the token: %v %v", found, err)
		}
		replicated(t, "record after the move: want owner B", func() bool {
			rec, ok, err := a.Lookup(ctx, "s1")
			return ok && err == nil && rec.Node == "B" && rec.Profile == "cif1"
		})
		if len(released) != 1 || released[0] != "A/s1" {
			t.Fatalf("releases asked: %v, want A/s1", released)
		}
		// A, had it survived, finds out on its next refresh (its revision
		// is stale) and stops refreshing; its Forget removes nothing.
		if !a.Owns("s1") {
			t.Fatal("A forgot s1 before its refresh")
		}
		a.Touch(ctx)
		if a.Owns("s1") {
			t.Fatal("A still refreshes s1 after B took it")
		}
		a.Forget(ctx, "s1")
		if rec, ok, _ := b.Lookup(ctx, "s1"); !ok || rec.Node != "B" {
			t.Fatalf("A's Forget removed B's session: %+v %v", rec, ok)
		}
		// B's own refresh and Forget work.
		b.Touch(ctx)
		if !b.Owns("s1") {
			t.Fatal("B lost s1 on its own refresh")
		}
		b.Forget(ctx, "s1")
		replicated(t, "B's Forget left the key", func() bool {
			_, ok, _ := a.Lookup(ctx, "s1")
			return !ok
		})
	})
}

func TestRegistryTwoNodesResumeAtOnceOneMoveEach(t *testing.T) {
	forEachDurable(t, func(t *testing.T, nodes []*cluster.Durable) {
		ctx := callCtx(t)
		none := func(context.Context, string, string, string) (bool, error) { return false, nil }
		a := registry(nodes[0], "A", none)
		if err := a.Register(ctx, "s2", "tok", "cif1"); err != nil {
			t.Fatal(err)
		}
		// B and C resume at once: each move is a compare-and-set, so both
		// succeed in turn and the registry ends naming one of them, never A
		// and never a lost write.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, node := range []string{"B", "C"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				found, err := registry(nodes[i+1], node, none).Resume(ctx, "s2", "tok")
				if err == nil && !found {
					err = errors.New("not found")
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("resumes: %v", errs)
		}
		e, err := nodes[0].Sessions.Get(ctx, "s2")
		if err != nil {
			t.Fatal(err)
		}
		var rec cluster.SessionRecord
		_ = json.Unmarshal(e.Value(), &rec)
		if rec.Node != "B" && rec.Node != "C" {
			t.Fatalf("owner %q, want B or C", rec.Node)
		}
		if e.Revision() < 3 {
			t.Fatalf("revision %d: want one write for A and one per move", e.Revision())
		}
	})
}

// lateNode is one node's LateAnswers with a fake bridge: the sessions it
// holds, the attempts its table waits for, and what it delivered.
type lateNode struct {
	*cluster.LateAnswers
	mu        sync.Mutex
	sessions  map[string]bool
	pending   map[string]bool
	delivered []correlation.Late
}

func newLateNode(t *testing.T, d *cluster.Durable, node string) *lateNode {
	n := &lateNode{sessions: map[string]bool{}, pending: map[string]bool{}}
	n.LateAnswers = &cluster.LateAnswers{Node: node, Log: zerolog.Nop(),
		Local:   func(s string) bool { n.mu.Lock(); defer n.mu.Unlock(); return n.sessions[s] },
		Pending: func(a string) bool { n.mu.Lock(); defer n.mu.Unlock(); return n.pending[a] },
		Deliver: func(l correlation.Late) bool {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.delivered = append(n.delivered, l)
			return true
		},
	}
	n.Open(d)
	return n
}

func (n *lateNode) hold(session string) { n.mu.Lock(); n.sessions[session] = true; n.mu.Unlock() }

func (n *lateNode) got() []correlation.Late {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]correlation.Late(nil), n.delivered...)
}

// run reads the late-answer stream until the test ends, and returns once
// the reader is subscribed.
func (n *lateNode) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(300 * time.Millisecond) // the ordered consumer starts at "new": let it exist first
}

// lateExecute runs one attempt on executor's Publishing backend with a
// deadline already past, as a node serving the backend does for a call
// another node timed out on.
func lateExecute(t *testing.T, executor *lateNode, session, attempt string) {
	t.Helper()
	be := executor.Publishing(backend.Func{N: "emulator", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
		return json.RawMessage(`{"id":"rec-1"}`), nil
	}})
	a := &correlation.Attempt{ID: attempt, Kind: correlation.KindBackend, Session: session, Method: "cif.createrecord",
		RequestID: json.RawMessage(`7`), Timeout: time.Second, Started: time.Now().Add(-2 * time.Second), Deadline: time.Now().Add(-time.Second)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := be.Execute(ctx, a); err != nil {
		t.Fatal(err)
	}
}

func waitDelivered(t *testing.T, n *lateNode, want int) []correlation.Late {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(n.got()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s delivered %d late answers, want %d", n.Node, len(n.got()), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n.got()
}

func TestLateAnswerDeliveredOnceByTheSessionsOwner(t *testing.T) {
	forEachDurable(t, func(t *testing.T, nodes []*cluster.Durable) {
		exec, b, c := newLateNode(t, nodes[2], "C"), newLateNode(t, nodes[1], "B"), newLateNode(t, nodes[0], "A2")
		b.hold("sess1")
		b.run(t)
		c.run(t)
		lateExecute(t, exec, "sess1", "at1-1")
		got := waitDelivered(t, b, 1)
		l := got[0]
		if l.Info.ID != "at1-1" || l.Info.Session != "sess1" || string(l.Result) != `{"id":"rec-1"}` || string(l.Info.RequestID) != "7" ||
			l.Info.Kind != correlation.KindBackend || l.LateBy < time.Second-50*time.Millisecond {
			t.Fatalf("delivered %+v", l)
		}
		// The same attempt published again (the executor retried its
		// publish) is deduplicated; a caller asking later loses the claim.
		lateExecute(t, exec, "sess1", "at1-1")
		if c.ClaimForCaller("at1-1", "sess1") {
			t.Fatal("a node not holding the session claimed the answer")
		}
		c.hold("sess1")
		if c.ClaimForCaller("at1-1", "sess1") {
			t.Fatal("a second claim of a delivered answer won")
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(b.got()); n != 1 || len(c.got()) != 0 {
			t.Fatalf("deliveries: B %d, other %d; want exactly one on B", n, len(c.got()))
		}
	})
}

func TestLateAnswerWaitsForTheNodeThatTakesTheSession(t *testing.T) {
	forEachDurable(t, func(t *testing.T, nodes []*cluster.Durable) {
		exec, b := newLateNode(t, nodes[2], "C"), newLateNode(t, nodes[1], "B")
		b.run(t)
		// Published while no live node holds the session (its node died):
		// nobody delivers it, until B takes the session and scans.
		lateExecute(t, exec, "sess2", "at2-1")
		time.Sleep(300 * time.Millisecond)
		if len(b.got()) != 0 {
			t.Fatal("delivered to a node not holding the session")
		}
		b.hold("sess2")
		// An attempt B's own table waits for is left to the router.
		b.mu.Lock()
		b.pending["at2-2"] = true
		b.mu.Unlock()
		lateExecute(t, exec, "sess2", "at2-2")
		ctx := callCtx(t)
		if err := b.Scan(ctx, "sess2"); err != nil {
			t.Fatal(err)
		}
		got := waitDelivered(t, b, 1)
		time.Sleep(300 * time.Millisecond)
		if len(b.got()) != 1 || got[0].Info.ID != "at2-1" {
			t.Fatalf("delivered %+v, want at2-1 only", b.got())
		}
		// A second scan (the widget resumed again) delivers nothing twice.
		if err := b.Scan(ctx, "sess2"); err != nil {
			t.Fatal(err)
		}
		if len(b.got()) != 1 {
			t.Fatalf("second scan delivered again: %d", len(b.got()))
		}
		if !b.ClaimForCaller("at2-2", "sess2") {
			t.Fatal("the caller holding the session lost the claim of its own pending attempt")
		}
	})
}

func TestLateAnswerInTimeIsNotPublished(t *testing.T) {
	forEachDurable(t, func(t *testing.T, nodes []*cluster.Durable) {
		exec := newLateNode(t, nodes[0], "C")
		be := exec.Publishing(backend.Func{N: "x", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			return json.RawMessage(`1`), nil
		}})
		ctx := callCtx(t)
		if _, err := be.Execute(ctx, &correlation.Attempt{ID: "at3-1", Session: "sess3", Timeout: time.Minute, Deadline: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		info, err := nodes[0].Late.Info(ctx, jetstream.WithSubjectFilter(cluster.LateSubject("sess3")))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 0 {
			t.Fatalf("%d late answers stored for an answer in time", info.State.Msgs)
		}
	})
}

// The node that sent an attempt and gets its answer after the deadline
// delivers it only when it still holds the session and wins the claim;
// otherwise the table gets ErrElsewhere and the node holding the session
// delivers the stored answer.
func TestCallerClaimsItsLateAnswerOrLeavesIt(t *testing.T) {
	forEachDurable(t, func(t *testing.T, nodes []*cluster.Durable) {
		ctx := callCtx(t)
		exec, caller, b := newLateNode(t, nodes[2], "C"), newLateNode(t, nodes[0], "A"), newLateNode(t, nodes[1], "B")
		r := cluster.NewLocal()
		slow := exec.Publishing(backend.Func{N: "emulator", F: func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			time.Sleep(200 * time.Millisecond)
			return json.RawMessage(`{"id":"rec-5"}`), nil
		}})
		stop, err := cluster.ServeBackend(ctx, r, cluster.BackendService, "C", slow, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		cb := &cluster.Backend{Router: r, Node: "A", Late: caller.LateAnswers}
		attempt := func(id, session string) (json.RawMessage, error) {
			return cb.Execute(ctx, &correlation.Attempt{ID: id, Kind: correlation.KindBackend, Session: session, Method: "cif.createrecord",
				Timeout: 50 * time.Millisecond, Started: time.Now(), Deadline: time.Now().Add(50 * time.Millisecond)})
		}

		caller.hold("s-here")
		res, err := attempt("at5-1", "s-here")
		if err != nil || string(res) != `{"id":"rec-5"}` {
			t.Fatalf("late answer on the caller holding the session: %s %v", res, err)
		}
		b.hold("s-here")
		if err := b.Scan(ctx, "s-here"); err != nil {
			t.Fatal(err)
		}
		if len(b.got()) != 0 {
			t.Fatalf("another node delivered the answer the caller claimed: %+v", b.got())
		}

		// The session moved to B while the attempt ran: the caller leaves
		// the answer to B.
		_, err = attempt("at5-2", "s-gone")
		if !errors.Is(err, correlation.ErrElsewhere) {
			t.Fatalf("late answer on a caller no longer holding the session: %v, want ErrElsewhere", err)
		}
		// It keeps the backend's answer, for the caller's capture.
		if ea := (*correlation.ElsewhereAnswer)(nil); !errors.As(err, &ea) || string(ea.Result) != `{"id":"rec-5"}` || ea.Err != nil {
			t.Fatalf("ErrElsewhere of the caller: %#v, want the answer {\"id\":\"rec-5\"} in it", err)
		}
		b.hold("s-gone")
		if err := b.Scan(ctx, "s-gone"); err != nil {
			t.Fatal(err)
		}
		if got := waitDelivered(t, b, 1); got[0].Info.ID != "at5-2" {
			t.Fatalf("B delivered %+v, want at5-2", got)
		}
	})
}

// A late answer that comes before the executing node's durable state is
// open (the node just started; its JetStream peers were slow to form a
// quorum) waits for it instead of travelling over the router only, so it
// still survives the death of the node that timed out.
func TestLateAnswerWaitsForTheDurableStateToOpen(t *testing.T) {
	forEachDurable(t, func(t *testing.T, nodes []*cluster.Durable) {
		b := newLateNode(t, nodes[1], "B")
		b.hold("sess4")
		b.run(t)
		exec := newLateNode(t, nodes[0], "C")
		exec.LateAnswers = &cluster.LateAnswers{Node: "C", Log: zerolog.Nop()} // not open yet
		done := make(chan struct{})
		go func() { defer close(done); lateExecute(t, exec, "sess4", "at4-1") }()
		time.Sleep(500 * time.Millisecond)
		select {
		case <-done:
			t.Fatal("the late answer was answered before the durable state opened: it was not stored")
		default:
		}
		exec.Open(nodes[0])
		<-done
		if got := waitDelivered(t, b, 1); got[0].Info.ID != "at4-1" {
			t.Fatalf("delivered %+v, want at4-1", got)
		}
	})
}
