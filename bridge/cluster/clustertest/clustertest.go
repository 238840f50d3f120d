// Package clustertest starts embedded NATS clusters for tests.
package clustertest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/cluster"
)

// JetStream starts n embedded servers with JetStream, each given the
// others' route addresses up front (as serve's --cluster-peers), stores in
// dir(), and returns once a JetStream meta leader knows all n, so that
// buckets and streams get n replicas. The caller shuts them down.
func JetStream(t testing.TB, n int, dir func() string) []*cluster.Embedded {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	var nodes []*cluster.Embedded
	fail := func(format string, args ...any) {
		for _, e := range nodes {
			e.Shutdown()
		}
		t.Fatalf(format, args...)
	}
	for i, addr := range addrs {
		var peers []string
		for j, p := range addrs {
			if j != i {
				peers = append(peers, p)
			}
		}
		e, err := cluster.StartEmbedded(cluster.EmbedConfig{Name: fmt.Sprintf("n%d", i), ClusterListen: addr, Peers: peers,
			JetStream: true, StoreDir: dir()})
		if err != nil {
			fail("%v", err)
		}
		nodes = append(nodes, e)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, e := range nodes {
			if len(e.S.JetStreamClusterPeers()) == n {
				return nodes
			}
		}
		if time.Now().After(deadline) {
			fail("no JetStream meta leader with %d servers after 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
