package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithoutLeaksEmbeddingNATS(m)) }

// topology is one way of running routers: a caller side (where the widget
// sits) and a serving side (where the backend sits).
type topology struct {
	name string
	// build returns the caller's and the server's routers and waitServed,
	// which returns once the caller's side knows of n answerers of service.
	build func(t testing.TB) (caller, server cluster.Router, waitServed func(service string, n int))
}

// topologies are every router the contract holds for: in-process, one
// embedded NATS server, three embedded servers clustered on loopback with
// the caller on A and the answerer on C.
var topologies = []topology{
	{"local", func(t testing.TB) (cluster.Router, cluster.Router, func(string, int)) {
		r := cluster.NewLocal()
		return r, r, func(string, int) {}
	}},
	{"nats-one-server", func(t testing.TB) (cluster.Router, cluster.Router, func(string, int)) {
		e := startServer(t, cluster.EmbedConfig{Name: "solo"})
		a, c := natsRouter(t, e, "caller"), natsRouter(t, e, "server")
		return a, c, func(service string, n int) { waitInterest(t, e, service, n) }
	}},
	{"nats-three-servers", func(t testing.TB) (cluster.Router, cluster.Router, func(string, int)) {
		nodes := startCluster(t, 3)
		a, c := natsRouter(t, nodes[0], "A"), natsRouter(t, nodes[2], "C")
		return a, c, func(service string, n int) { waitInterest(t, nodes[0], service, n) }
	}},
}

// startServer starts an embedded server stopped at the test's end.
func startServer(t testing.TB, cfg cluster.EmbedConfig) *cluster.Embedded {
	t.Helper()
	e, err := cluster.StartEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// startCluster starts n embedded servers routed to each other on loopback
// and returns once each has a route to every other.
func startCluster(t testing.TB, n int) []*cluster.Embedded {
	t.Helper()
	first := startServer(t, cluster.EmbedConfig{Name: "n0", ClusterListen: "127.0.0.1:0"})
	nodes := []*cluster.Embedded{first}
	for i := 1; i < n; i++ {
		nodes = append(nodes, startServer(t, cluster.EmbedConfig{Name: fmt.Sprintf("n%d", i),
			ClusterListen: "127.0.0.1:0", Peers: []string{first.ClusterAddr().String()}}))
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, e := range nodes {
		for e.Routes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("cluster did not form: a node has %d routes of %d", e.Routes(), n-1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nodes
}

func natsRouter(t testing.TB, e *cluster.Embedded, name string) *cluster.NATS {
	t.Helper()
	nc, err := e.Connect(name)
	if err != nil {
		t.Fatal(err)
	}
	r := cluster.NewNATS(nc, zerolog.Nop())
	t.Cleanup(func() { r.Close(); nc.Close() })
	return r
}

// waitInterest returns once e knows of an answerer of service (n > 0) or
// of none (n == 0): routes announce subscriptions asynchronously, and a
// remote queue group counts once whatever its size.
func waitInterest(t testing.TB, e *cluster.Embedded, service string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for (e.Interest(service) > 0) != (n > 0) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d answerers known, want %d", service, e.Interest(service), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func forEachTopology(t *testing.T, f func(t *testing.T, caller, server cluster.Router, waitServed func(string, int))) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			caller, server, wait := top.build(t)
			f(t, caller, server, wait)
		})
	}
}

func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestContractCallReachesTheAnswerer(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		stop, err := server.Serve("backend", func(ctx context.Context, req []byte) []byte {
			return append([]byte("echo:"), req...)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		wait("backend", 1)
		out, err := caller.Call(callCtx(t), "backend", []byte(`{"x":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != `echo:{"x":1}` {
			t.Fatalf("answer %q", out)
		}
	})
}

// Nobody serving is ErrNoResponders at once: the call's deadline is a
// minute away, so waiting for it would fail the test with another error.
func TestContractNoResponders(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		_, err := caller.Call(callCtx(t), "backend", []byte("x"))
		if !errors.Is(err, cluster.ErrNoResponders) {
			t.Fatalf("no answerer: got %v, want ErrNoResponders", err)
		}
		// Served, then stopped: nobody again.
		stop, err := server.Serve("backend", func(ctx context.Context, req []byte) []byte { return req })
		if err != nil {
			t.Fatal(err)
		}
		wait("backend", 1)
		if _, err := caller.Call(callCtx(t), "backend", []byte("x")); err != nil {
			t.Fatal(err)
		}
		stop()
		wait("backend", 0)
		if _, err := caller.Call(callCtx(t), "backend", []byte("x")); !errors.Is(err, cluster.ErrNoResponders) {
			t.Fatalf("after stop: got %v, want ErrNoResponders", err)
		}
	})
}

// The caller's deadline ends the call, and the answerer's ctx ends with it
// (its budget is the caller's).
func TestContractDeadlineIsTheAnswerersBudget(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		ended := make(chan bool, 1)
		returned := make(chan struct{})
		stop, err := server.Serve("slow", func(ctx context.Context, req []byte) []byte {
			_, hasDeadline := ctx.Deadline()
			<-ctx.Done()
			ended <- hasDeadline
			<-returned
			return []byte("too late")
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		wait("slow", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = caller.Call(ctx, "slow", nil)
		close(returned)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
		if !<-ended {
			t.Fatal("the answerer's ctx had no deadline")
		}
	})
}

func TestContractConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		stop, err := server.Serve("backend", func(ctx context.Context, req []byte) []byte {
			return bytes.ToUpper(req)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		wait("backend", 1)
		ctx := callCtx(t)
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Go(func() {
				in := fmt.Sprintf("call-%d", i)
				out, err := caller.Call(ctx, "backend", []byte(in))
				if err != nil {
					errs <- err
				} else if string(out) != strings.ToUpper(in) {
					errs <- fmt.Errorf("call %q answered %q", in, out)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// Two answerers of one service: each call is answered exactly once.
func TestContractQueueAnswersEachCallOnce(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		var n1, n2 atomic.Int64
		stop1, err := server.Serve("backend", func(ctx context.Context, req []byte) []byte { n1.Add(1); return []byte("1") })
		if err != nil {
			t.Fatal(err)
		}
		defer stop1()
		stop2, err := server.Serve("backend", func(ctx context.Context, req []byte) []byte { n2.Add(1); return []byte("2") })
		if err != nil {
			t.Fatal(err)
		}
		defer stop2()
		wait("backend", 2)
		const calls = 100
		for range calls {
			if _, err := caller.Call(callCtx(t), "backend", nil); err != nil {
				t.Fatal(err)
			}
		}
		stop1()
		stop2()
		if got := n1.Load() + n2.Load(); got != calls {
			t.Fatalf("%d calls executed %d times", calls, got)
		}
	})
}

func TestContractLargePayload(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		stop, err := server.Serve("backend", func(ctx context.Context, req []byte) []byte { return req })
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		wait("backend", 1)
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: a widget message at --max-message-bytes
		out, err := caller.Call(callCtx(t), "backend", big)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, big) {
			t.Fatalf("1 MiB payload came back as %d bytes", len(out))
		}
	})
}

// Service names are NATS subject tokens: wildcards, whitespace and empty
// tokens are refused on both sides, before anything is subscribed or sent.
func TestContractServiceNamesAreChecked(t *testing.T) {
	bad := []string{"", ".", "a.", ".a", "a..b", "*", ">", "host.*", "host.>", "a b", "a\tb", "s\n", "é", strings.Repeat("x", cluster.MaxTokenLen+1)}
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		for _, name := range bad {
			if _, err := server.Serve(name, func(ctx context.Context, req []byte) []byte { return nil }); err == nil {
				t.Errorf("Serve(%q) accepted", name)
			}
			if _, err := caller.Call(callCtx(t), name, nil); err == nil || errors.Is(err, cluster.ErrNoResponders) {
				t.Errorf("Call(%q): %v, want a name error", name, err)
			}
		}
		for _, good := range []string{"backend", "host.s0123abcd", "host.A-b_9", strings.Repeat("x", cluster.MaxTokenLen)} {
			if err := cluster.CheckService(good); err != nil {
				t.Errorf("CheckService(%q): %v", good, err)
			}
		}
	})
}

func TestContractCallNeedsADeadline(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		if _, err := caller.Call(context.Background(), "backend", nil); !errors.Is(err, cluster.ErrNoDeadline) {
			t.Fatalf("got %v, want ErrNoDeadline", err)
		}
	})
}

// A publish (no reply subject) on a service's subject is ignored, not
// executed: only requests are served.
func TestNATSIgnoresPublishes(t *testing.T) {
	e := startServer(t, cluster.EmbedConfig{Name: "solo"})
	var calls atomic.Int64
	r := natsRouter(t, e, "server")
	stop, err := r.Serve("backend", func(ctx context.Context, req []byte) []byte { calls.Add(1); return req })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	nc, err := e.Connect("publisher")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish(cluster.Subject("backend"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A request afterwards is served; the publish before it was not.
	if _, err := nc.Request(cluster.Subject("backend"), []byte("y"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls executed, want 1 (the request only)", calls.Load())
	}
}

// Gather reaches every ServeAll answerer (not one of a queue group) and
// returns as soon as want answered; nobody serving is no answers at once.
func TestContractGather(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		ctx := callCtx(t)
		got, err := caller.Gather(ctx, "nodes", []byte("who"), 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("nobody: %q, %v", got, err)
		}
		if ctx.Err() != nil {
			t.Fatal("a gather with nobody serving waited for its deadline")
		}
		for _, name := range []string{"x", "y"} {
			stop, err := server.ServeAll("nodes", func(ctx context.Context, req []byte) []byte { return []byte(name + ":" + string(req)) })
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
		}
		wait("nodes", 2)
		var answers []string
		for len(answers) < 2 && ctx.Err() == nil { // routes may announce the second answerer a moment later
			got, err = caller.Gather(ctx, "nodes", []byte("who"), 2)
			if err != nil {
				t.Fatal(err)
			}
			answers = answers[:0]
			for _, a := range got {
				answers = append(answers, string(a))
			}
		}
		if ctx.Err() != nil {
			t.Fatal("a gather with want answers waited for its deadline")
		}
		slices.Sort(answers)
		if strings.Join(answers, ",") != "x:who,y:who" {
			t.Fatalf("answers %q", answers)
		}
		if _, err := caller.Gather(ctx, "a.*", nil, 0); err == nil {
			t.Fatal("Gather took a wildcard")
		}
		if _, err := caller.Gather(context.Background(), "nodes", nil, 0); !errors.Is(err, cluster.ErrNoDeadline) {
			t.Fatalf("Gather without a deadline: %v", err)
		}
	})
}

// A handler that panics ends its own call, not the node: that call gets no
// answer (its budget ends it, as when a node goes away), and the calls
// after it are answered.
func TestNATSHandlerPanicEndsOnlyItsCall(t *testing.T) {
	e := startServer(t, cluster.EmbedConfig{Name: "solo"})
	r := natsRouter(t, e, "server")
	stop, err := r.Serve("backend", func(ctx context.Context, req []byte) []byte {
		if string(req) == "boom" {
			var m map[string]int
			m["x"]++ // a real runtime panic: assignment to a nil map
		}
		return req
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	caller := natsRouter(t, e, "caller")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if out, err := caller.Call(ctx, "backend", []byte("boom")); err == nil {
		t.Fatalf("the panicking call was answered: %q", out)
	}
	out, err := caller.Call(callCtx(t), "backend", []byte("after"))
	if err != nil || string(out) != "after" {
		t.Fatalf("the call after a panic: %q, %v", out, err)
	}
}

// A second node with a node's name (its --node-id) is refused by the
// first's NATS server, and the first node's log says so: before, the
// embedded servers logged nothing and the clash went unseen.
func TestDuplicateNodeNameIsLogged(t *testing.T) {
	var logs testutil.Buffer
	log := zerolog.New(&logs)
	first := startServer(t, cluster.EmbedConfig{Name: "a", ClusterListen: "127.0.0.1:0", Log: &log})
	startServer(t, cluster.EmbedConfig{Name: "a", ClusterListen: "127.0.0.1:0", Peers: []string{first.ClusterAddr().String()}})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), `Remote server has a duplicate name: \"a\"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no duplicate-name warning in the first node's log within 20 s:\n%s", &logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if first.Routes() != 0 {
		t.Errorf("the first node routes to its namesake: %d routes", first.Routes())
	}
}
