package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/protocol"
)

// TestClusterThreeProcesses runs the README's loopback cluster as three
// `cifbridge serve` processes (C serves its emulator, A and B call it):
// a record created from A is read from B; a create slower than A's CIF
// timeout is answered late across the route (bridge.late on A's widget);
// after kill -9 of C, A answers -32002 (delivered false) without waiting
// for its 60 s CIF timeout, and /readyz turns 503.
func TestClusterThreeProcesses(t *testing.T) {
	a, b, c := startThreeNodes(t, "60s", "1s")

	wa := dialWidget(t, strings.TrimPrefix(a.base, "http://"))
	wb := dialWidget(t, strings.TrimPrefix(b.base, "http://"))
	createThenRetrieve(t, wa, wb, "Ada", "Lovelace", [2]string{"A", "B"})

	// A create slower than B's CIF timeout (1.5 s in C's emulator against a
	// 1 s timeout): -32000 on B's widget, then bridge.late with the record.
	faults := `{"rules":[{"method":"createrecord","entity":"contact","latencyMs":1500,"count":1}]}`
	req, _ := http.NewRequest(http.MethodPut, c.base+"/api/v1/emulator/faults", strings.NewReader(faults))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT faults on C: %v %v", resp, err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = wb.ws.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":3,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Late"}}}`))
	first := readUntil(t, ctx, wb, func(m wireMsg) bool { return string(m.ID) == "3" })
	if first.Error == nil || first.Error.Code != protocol.CodeTimeout {
		t.Fatalf("slow create on B: %+v, want -32000", first)
	}
	late := readUntil(t, ctx, wb, func(m wireMsg) bool { return m.Method == protocol.NotifyLate })
	var lp protocol.LateParams
	if err := json.Unmarshal(late.Params, &lp); err != nil || lp.Outcome != protocol.OutcomeSuccess || string(lp.RequestID) != "3" {
		t.Fatalf("bridge.late on B: %s", late.Params)
	}

	// kill -9 of the emulator node. A call already routed to C when it died
	// has no answer coming (its outcome is unknown: the widget gets the CIF
	// timeout); once A's server has seen the route close, nobody serves
	// the backend and a call is -32002 at once. A's /readyz turning 503
	// tells that moment.
	c.kill()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := getBody(t, a.base+"/readyz"); code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A's /readyz still 200 20 s after C died")
		}
	}
	start := time.Now()
	out := wa.call(4, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"Nobody"}}`)
	var res struct {
		Error *protocol.Error `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Error == nil || res.Error.Code != protocol.CodeNoBackend || string(res.Error.Data) != `{"delivered":false}` {
		t.Fatalf("create on A after C died: %s", out)
	}
	t.Logf("-32002 in %v once A saw C gone (A's CIF timeout is 60 s)", time.Since(start))
}

// startThreeNodes runs the README's loopback cluster as three `cifbridge
// serve` processes: c serves its emulator, a and b (CIF timeouts aTimeout
// and bTimeout) call it. It returns once a and b are ready. Skipped
// under -short.
func startThreeNodes(t *testing.T, aTimeout, bTimeout string) (a, b, c *retryDaemon) {
	t.Helper()
	nodes := startMesh(t, []meshNode{
		{id: "c"},
		{id: "a", args: []string{"--backend", "cluster", "--cif-timeout", aTimeout}},
		{id: "b", args: []string{"--backend", "cluster", "--cif-timeout", bTimeout}},
	})
	c, a, b = nodes[0], nodes[1], nodes[2]
	waitReady(t, a.base)
	waitReady(t, b.base)
	return a, b, c
}

// meshNode is one process of startMesh: its --node-id and the serve
// arguments of its own.
type meshNode struct {
	id   string
	args []string
}

// startMesh runs one `cifbridge serve` process per node, in that order,
// clustered on loopback in a full mesh (each lists every other node's
// route in --cluster-peers), each with a data directory of its own, and
// returns them in the same order. Skipped under -short.
func startMesh(t *testing.T, nodes []meshNode) []*retryDaemon {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs a daemon per node")
	}
	bin := buildRetryBinary(t)
	routes := make([]string, len(nodes))
	for i := range routes {
		routes[i] = freeAddr(t)
	}
	var out []*retryDaemon
	for i, n := range nodes {
		peers := slices.Delete(slices.Clone(routes), i, i+1)
		args := append([]string{"--node-id", n.id, "--data-dir", t.TempDir(),
			"--cluster-listen", routes[i], "--cluster-peers", strings.Join(peers, ",")}, n.args...)
		out = append(out, startRetryDaemon(t, bin, args...))
	}
	return out
}

type wireMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Error  *protocol.Error `json:"error"`
}

func readUntil(t *testing.T, ctx context.Context, w *widget, match func(wireMsg) bool) wireMsg {
	t.Helper()
	for {
		_, b, err := w.ws.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m wireMsg
		if json.Unmarshal(b, &m) == nil && match(m) {
			return m
		}
	}
}
