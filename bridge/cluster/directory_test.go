package cluster_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/protocol"
)

func sessionList(ids ...string) func() protocol.SessionList {
	return func() protocol.SessionList {
		l := protocol.SessionList{Sessions: []protocol.SessionInfo{}}
		for _, id := range ids {
			l.Sessions = append(l.Sessions, protocol.SessionInfo{SessionSummary: protocol.SessionSummary{ID: id}})
		}
		return l
	}
}

// Every node's sessions, each with its node; a node that stops answering
// is named missing.
func TestDirectoryGathersEveryNode(t *testing.T) {
	forEachTopology(t, func(t *testing.T, caller, server cluster.Router, wait func(string, int)) {
		a := &cluster.Directory{Router: caller, Node: "A", Backend: "cluster", Version: "v", Local: sessionList("s1", "s2"), Log: zerolog.Nop()}
		c := &cluster.Directory{Router: server, Node: "C", Backend: "emulator", Version: "v", Local: sessionList("s3"), Log: zerolog.Nop()}
		stopA, err := a.Serve()
		if err != nil {
			t.Fatal(err)
		}
		defer stopA()
		stopC, err := c.Serve()
		if err != nil {
			t.Fatal(err)
		}
		wait(cluster.SessionsService, 1)
		var got protocol.ClusterSessions
		// Routes may announce C a while after A on a loaded machine: ask
		// until both answer, for up to 20 s.
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			got = a.Sessions(context.Background(), 2*time.Second)
			if len(got.Nodes) == 2 {
				break
			}
		}
		if len(got.Nodes) != 2 || got.Nodes[0].Node != "A" || got.Nodes[1].Node != "C" || got.Nodes[0].Sessions != 2 || got.Nodes[1].Backend != "emulator" {
			t.Fatalf("nodes %+v", got.Nodes)
		}
		want := []string{"A/s1", "A/s2", "C/s3"}
		if len(got.Sessions) != 3 {
			t.Fatalf("sessions %+v", got.Sessions)
		}
		for i, s := range got.Sessions {
			if s.Node+"/"+s.ID != want[i] {
				t.Fatalf("session %d is %s/%s, want %s", i, s.Node, s.ID, want[i])
			}
		}
		if len(got.Missing) != 0 || got.Nodes[0].LastSeen.IsZero() || !got.Nodes[0].LastSeen.Equal(got.Nodes[1].LastSeen) {
			t.Fatalf("missing %v, nodes %+v", got.Missing, got.Nodes)
		}
		seenC := got.Nodes[1]

		st := a.Status(context.Background())
		if len(st.Nodes) != 2 || st.Nodes[0].Node != "A" || st.Nodes[1].Node != "C" || st.Nodes[1].Sessions != 1 || len(st.Missing) != 0 {
			t.Fatalf("status %+v", st)
		}

		stopC()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) { // until C's unsubscription reached A
			got = a.Sessions(context.Background(), 200*time.Millisecond)
			if len(got.Nodes) == 1 {
				break
			}
		}
		if len(got.Nodes) != 1 || len(got.Missing) != 1 || got.Missing[0] != "C" || len(got.Sessions) != 2 {
			t.Fatalf("after C stopped: nodes %+v, missing %v, %d sessions", got.Nodes, got.Missing, len(got.Sessions))
		}
		// What A last heard from C: its backend, sessions and when.
		if len(got.MissingNodes) != 1 || got.MissingNodes[0].Node != "C" || got.MissingNodes[0].Backend != "emulator" ||
			got.MissingNodes[0].Sessions != 1 || got.MissingNodes[0].LastSeen.Before(seenC.LastSeen) || !got.MissingNodes[0].LastSeen.Before(got.Nodes[0].LastSeen) {
			t.Fatalf("after C stopped: missingNodes %+v (C seen at %v)", got.MissingNodes, seenC.LastSeen)
		}
		if st := a.Status(context.Background()); len(st.Nodes) != 1 || len(st.Missing) != 1 || st.Missing[0] != "C" {
			t.Fatalf("status after C stopped: %+v", st)
		}
	})
}

func TestDirectoryHandler(t *testing.T) {
	d := &cluster.Directory{Router: cluster.NewLocal(), Node: "A", Local: sessionList("s1"), Log: zerolog.Nop()}
	stop, err := d.Serve()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	for _, bad := range []string{"0", "10001", "soon", "-5"} {
		resp, err := http.Get(srv.URL + "?timeoutMs=" + bad)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error *protocol.Error `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || e.Error == nil || e.Error.Code != protocol.CodeInvalidParams {
			t.Errorf("timeoutMs=%s: %d %+v", bad, resp.StatusCode, e.Error)
		}
	}
	resp, err := http.Get(srv.URL + "?timeoutMs=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got protocol.ClusterSessions
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Sessions) != 1 || got.Sessions[0].Node != "A" || got.TimeoutMs != 1000 {
		t.Fatalf("%+v %v", got, err)
	}
}
