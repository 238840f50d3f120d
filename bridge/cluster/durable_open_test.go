package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cifbridge/cifbridge/bridge/cluster"
)

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
