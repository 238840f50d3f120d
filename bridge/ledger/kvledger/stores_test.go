package kvledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/bridge/cluster/clustertest"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/kvledger"
	"github.com/cifbridge/cifbridge/internal/testutil"
)

// The NATS servers every KV test shares (each test has a bucket of its
// own): started on first use, stopped by TestMain.
var (
	serversMu sync.Mutex
	solo      *cluster.Embedded   // one JetStream server
	trio      []*cluster.Embedded // three clustered on loopback
	dirsMu    sync.Mutex
	tempDirs  []string // removed by TestMain, after the servers stopped
	buckets   atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithoutLeaksEmbeddingNATS(m, stopShared)) }

// stopShared stops the shared servers and removes their stores.
func stopShared() {
	serversMu.Lock()
	for _, e := range append([]*cluster.Embedded{solo}, trio...) {
		if e != nil {
			e.Shutdown()
		}
	}
	serversMu.Unlock()
	dirsMu.Lock()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	dirsMu.Unlock()
}

func tempDir(t testing.TB) string {
	d, err := os.MkdirTemp("", "kvledger-js-")
	if err != nil {
		t.Fatal(err)
	}
	dirsMu.Lock()
	tempDirs = append(tempDirs, d)
	dirsMu.Unlock()
	return d
}

// soloServer is one embedded JetStream server (not clustered).
func soloServer(t testing.TB) []*cluster.Embedded {
	serversMu.Lock()
	defer serversMu.Unlock()
	if solo == nil {
		e, err := cluster.StartEmbedded(cluster.EmbedConfig{Name: "solo", JetStream: true, StoreDir: tempDir(t)})
		if err != nil {
			t.Fatal(err)
		}
		solo = e
	}
	return []*cluster.Embedded{solo}
}

// trioServers are three embedded JetStream servers routed to each other on
// loopback (each lists the other two, as serve's README says), shared by
// the tests.
func trioServers(t testing.TB) []*cluster.Embedded {
	serversMu.Lock()
	defer serversMu.Unlock()
	if trio == nil {
		trio = startTrio(t)
	}
	return trio
}

// startTrio starts three clustered JetStream servers and returns once a
// meta leader knows all three. The caller shuts them down.
func startTrio(t testing.TB) []*cluster.Embedded {
	return clustertest.JetStream(t, 3, func() string { return tempDir(t) })
}

// opener opens one more client of a test's ledger, through server via (of
// however many the store has).
type opener func(t *testing.T, via int) ledger.Store

// stores are every ledger.Store the contract holds for.
var stores = []struct {
	name string
	// build makes a fresh, empty ledger and returns how to open clients of it.
	build func(t *testing.T) opener
}{
	{"sqlite", func(t *testing.T) opener {
		path := filepath.Join(t.TempDir(), ledger.FileName)
		return func(t *testing.T, _ int) ledger.Store {
			l, err := ledger.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l
		}
	}},
	{"kv-one-server", func(t *testing.T) opener { return kvOpener(soloServer(t), 1) }},
	{"kv-three-servers", func(t *testing.T) opener { return kvOpener(trioServers(t), 3) }},
}

// kvOpener opens clients of a fresh bucket on servers; the bucket must
// come out with wantReplicas replicas.
func kvOpener(servers []*cluster.Embedded, wantReplicas int) opener {
	bucket := fmt.Sprintf("ledger_test_%d", buckets.Add(1))
	return func(t *testing.T, via int) ledger.Store {
		s := openKV(t, servers[via%len(servers)], bucket)
		if s.Replicas() != wantReplicas {
			t.Fatalf("bucket has %d replicas, want %d", s.Replicas(), wantReplicas)
		}
		return s
	}
}

// openKV opens a store on its own connection to e and waits until it is
// ready.
func openKV(t testing.TB, e *cluster.Embedded, bucket string) *kvledger.Store {
	t.Helper()
	nc, err := e.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s := kvledger.Open(js, kvledger.Config{Bucket: bucket})
	t.Cleanup(func() { s.Close(); nc.Close() })
	select {
	case <-s.Ready():
	case <-time.After(30 * time.Second):
		t.Fatalf("bucket %s not ready after 30s", bucket)
	}
	return s
}

func forEachStore(t *testing.T, f func(t *testing.T, open opener)) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { f(t, st.build(t)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", resp.Request.URL, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
