package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge/cluster"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// logField returns the first value of field among the JSON log lines that
// have it, waiting up to 10 s for one to appear.
func logField(t *testing.T, logs *logBuffer, field string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				if v, ok := line[field].(string); ok && v != "" {
					return v
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q in the logs:\n%s", field, logs)
	return ""
}

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// served is one in-process serve run of startPair.
type served struct {
	url   string // ws://…/v1/widget
	route string // its --cluster-listen
	logs  *logBuffer
	stop  func() error
}

// startPair runs two in-process serve runs clustered on loopback by their
// embedded NATS servers, each listing the other's route in
// --cluster-peers (the README's two-node setup), first then second, each
// with its own arguments (--node-id among them).
func startPair(t *testing.T, first, second []string) (a, b served) {
	t.Helper()
	routeA, routeB := freeAddr(t), freeAddr(t)
	a.route, b.route = routeA, routeB
	a.url, a.logs, a.stop = startServe(t, append([]string{"--cluster-listen", routeA, "--cluster-peers", routeB}, first...)...)
	b.url, b.logs, b.stop = startServe(t, append([]string{"--cluster-listen", routeB, "--cluster-peers", routeA}, second...)...)
	return a, b
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// httpBase is the daemon's http://host:port from its widget URL.
func httpBase(widgetURL string) string {
	return "http://" + strings.TrimSuffix(strings.TrimPrefix(widgetURL, "ws://"), protocol.PathWidget)
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers 200 (a --backend cluster node
// is ready once it sees a node serving the backend).
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := getBody(t, base+"/readyz")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz: %d %s", base, code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createThenRetrieve creates the contact first last through creator and
// reads it back through reader (another node's widget), which must see its
// fullname; it returns the record's id. where names the two nodes in
// failures ("A", "C").
func createThenRetrieve(t *testing.T, creator, reader *widget, first, last string, where [2]string) string {
	t.Helper()
	out := creator.call(1, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"`+first+`","lastname":"`+last+`"}}`)
	var created struct {
		Result struct {
			ID string `json:"id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.Result.ID == "" {
		t.Fatalf("create on %s: %s", where[0], out)
	}
	got := reader.call(1, "cif.retrieverecord", `{"entityName":"contact","entityId":"`+created.Result.ID+`","queryParameters":"?$select=fullname"}`)
	if !strings.Contains(string(got), `"fullname":"`+first+` `+last+`"`) {
		t.Fatalf("retrieve on %s of %s's record: %s", where[1], where[0], got)
	}
	return created.Result.ID
}

// Two serve runs clustered on loopback by embedded NATS servers: the widget
// on A creates a record that the emulator on C holds; A names itself in
// status and metrics; a second emulator node is refused.
func TestServeClusterTwoNodes(t *testing.T) {
	// Each node lists the other, as the README tells (clustered JetStream
	// needs routes configured on every node).
	c, an := startPair(t, []string{"--node-id", "node-c"}, []string{"--node-id", "node-a", "--backend", "cluster"})
	cURL, aURL, aLogs := c.url, an.url, an.logs
	a := httpBase(aURL)
	waitReady(t, a)

	wa := dialWidget(t, strings.TrimPrefix(a, "http://"))
	// The record lives in C's emulator.
	wc := dialWidget(t, strings.TrimPrefix(httpBase(cURL), "http://"))
	createThenRetrieve(t, wa, wc, "Ada", "Lovelace", [2]string{"A", "C"})

	// C lists the sessions of both nodes, each with its node.
	var all protocol.ClusterSessions
	for range 50 {
		_, body := getBody(t, httpBase(cURL)+"/api/v1/cluster/sessions?timeoutMs=2000")
		if err := json.Unmarshal([]byte(body), &all); err != nil {
			t.Fatalf("cluster sessions: %s", body)
		}
		if len(all.Nodes) == 2 {
			break
		}
	}
	nodes := map[string]int{}
	for _, s := range all.Sessions {
		nodes[s.Node]++
	}
	if len(all.Nodes) != 2 || nodes["node-a"] != 1 || nodes["node-c"] != 1 || len(all.Missing) != 0 {
		t.Fatalf("C's cluster sessions: %+v", all)
	}

	// An event raised through C's admin API reaches the widget on A, and
	// the widget's answer comes back to C's caller.
	var aSession string
	for _, s := range all.Sessions {
		if s.Node == "node-a" {
			aSession = s.ID
		}
	}
	posted := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, httpBase(cURL)+"/api/v1/sessions/"+aSession+"/events",
			strings.NewReader(`{"eventType":"onclicktoact","eventData":{"value":"+31201234567"}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			posted <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		posted <- fmt.Sprint(resp.StatusCode, " ", string(b))
	}()
	ectx, ecancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ecancel()
	for {
		_, b, err := wa.ws.Read(ectx)
		if err != nil {
			t.Fatalf("widget on A: no event: %v", err)
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(b, &m) == nil && m.Method == "cif.onclicktoact" {
			if !strings.Contains(string(m.Params), "+31201234567") {
				t.Fatalf("event params on A: %s", m.Params)
			}
			if err := wa.ws.Write(ectx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":"dialled"}`)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if got := <-posted; !strings.HasPrefix(got, "200 ") || !strings.Contains(strings.Join(strings.Fields(got), ""), `"result":"dialled"`) {
		t.Fatalf("event via C: %s", got)
	}
	code, body := postJSON(t, httpBase(cURL)+"/api/v1/sessions/s00000000000000000000/events", `{"eventType":"onclicktoact"}`)
	if code != http.StatusNotFound || !strings.Contains(body, "any node") {
		t.Fatalf("event to a session on no node: %d %s", code, body)
	}

	_, status := getBody(t, a+"/api/v1/status")
	var st protocol.Status
	if err := json.Unmarshal([]byte(status), &st); err != nil || st.Node != "node-a" || st.Backend != "cluster" ||
		st.Cluster == nil || len(st.Cluster.Nodes) != 2 || st.Cluster.Nodes[0].Node != "node-a" || st.Cluster.Nodes[1].Node != "node-c" ||
		st.Cluster.Nodes[1].Backend != "emulator" || len(st.Cluster.Missing) != 0 {
		t.Fatalf("A's status: %s", status)
	}
	if _, metrics := getBody(t, a+"/metrics"); !strings.Contains(metrics, `cifbridge_sessions{node="node-a"}`) ||
		!strings.Contains(metrics, `cifbridge_cluster_calls_total{kind="backend",outcome="ok",node="node-a"} 1`) {
		t.Fatalf("A's metrics lack the node label:\n%.2000s", metrics)
	}
	if !strings.Contains(aLogs.String(), `"node":"node-a"`) || !strings.Contains(aLogs.String(), `cifbridge serving on`) {
		t.Fatalf("A's logs lack its node id:\n%s", aLogs)
	}

	// A second --backend emulator node in the same cluster refuses to start
	// (one that wrongly starts is stopped after 15 s, its log shown).
	bctx, bcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer bcancel()
	bl := &logBuffer{}
	err := run(bctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--node-id", "node-b", "--cluster-listen", "127.0.0.1:0", "--cluster-peers", c.route}, io.Discard, bl)
	if err == nil || !strings.Contains(err.Error(), `node "node-c" serves "backend"`) {
		t.Fatalf("second emulator node: %v, want a refusal naming node-c\n%s", err, bl)
	}
}

// A --backend cluster node with nobody serving the backend answers -32002
// (delivered false) at once, and is not ready.
func TestServeClusterNoBackend(t *testing.T) {
	aURL, _, _ := startServe(t, "--node-id", "lonely", "--backend", "cluster", "--cluster-listen", "127.0.0.1:0")
	a := httpBase(aURL)
	if code, body := getBody(t, a+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz without a backend node: %d %s", code, body)
	}
	w := dialWidget(t, strings.TrimPrefix(a, "http://"))
	out := w.call(1, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"Ada"}}`)
	var resp struct {
		Error *protocol.Error `json:"error"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.Error == nil || resp.Error.Code != protocol.CodeNoBackend || string(resp.Error.Data) != `{"delivered":false}` {
		t.Fatalf("create with no backend node: %s", out)
	}
}

// No cluster flag: no node id anywhere, and the cluster-only flags are
// refused or ignored with a clear message.
func TestServeClusterFlagsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "cluster"}, "--backend cluster needs a cluster"},
		{[]string{"--nats-url", "nats://127.0.0.1:1", "--cluster-listen", "127.0.0.1:0"}, "not both"},
		{[]string{"--cluster-peers", "127.0.0.1:6222"}, "--cluster-peers needs --cluster-listen"},
		{[]string{"--cluster-listen", "nonsense"}, "is not HOST:PORT"},
		{[]string{"--cluster-listen", "127.0.0.1:0", "--node-id", "a.b"}, "--node-id \"a.b\""},
		{[]string{"--nats-url", "http://x"}, "starts with nats://"},
		// Nobody listens on port 1: said at once, exit 2 like any bad flag.
		{[]string{"--nats-url", "nats://127.0.0.1:1"}, "--nats-url nats://127.0.0.1:1: no NATS server answers there"},
	} {
		code, _, stderr := cli(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// A --cluster-listen port another program holds is said at once, not
// after the embedded server's 15 s readiness wait.
func TestServeClusterListenPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, _, stderr := cli(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--cluster-listen", l.Addr().String())
	if code != 1 || !strings.Contains(stderr, "--cluster-listen "+l.Addr().String()) || !strings.Contains(stderr, "give each node its own port") {
		t.Fatalf("exit %d, stderr %q; want 1 naming --cluster-listen", code, stderr)
	}
}

func TestServeSingleNodeHasNoNode(t *testing.T) {
	url, _, _ := startServe(t)
	_, status := getBody(t, httpBase(url)+"/api/v1/status")
	if strings.Contains(status, `"node"`) || strings.Contains(status, `"cluster"`) {
		t.Fatalf("single-node status names a node: %s", status)
	}
	if _, metrics := getBody(t, httpBase(url)+"/metrics"); strings.Contains(metrics, `node="`) {
		t.Fatal("single-node metrics carry a node label")
	}
	// /api/v1/sessions keeps its single-node shape: sessions only, no node.
	dialWidget(t, strings.TrimPrefix(httpBase(url), "http://")).call(1, "bridge.hello", `{}`)
	for _, scope := range []string{"", "?scope=local", "?scope=cluster"} {
		_, body := getBody(t, httpBase(url)+"/api/v1/sessions"+scope)
		var raw map[string][]map[string]any
		if err := json.Unmarshal([]byte(body), &raw); err != nil || len(raw) != 1 || len(raw["sessions"]) != 1 || raw["sessions"][0]["node"] != nil {
			t.Fatalf("single-node /api/v1/sessions%s: %s", scope, body)
		}
	}
	if code, body := getBody(t, httpBase(url)+"/api/v1/sessions?scope=all"); code != http.StatusBadRequest || !strings.Contains(body, `scope \"all\"`) {
		t.Fatalf("a bad scope on a single node: %d %s", code, body)
	}
}

// --nats-url: two nodes join an existing NATS server (JetStream on); the
// widget on A is served by C's emulator.
func TestServeClusterNATSURL(t *testing.T) {
	ext, err := cluster.StartEmbedded(cluster.EmbedConfig{Name: "ext", ClientListen: "127.0.0.1:0", JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ext.Shutdown)
	url := ext.ClientURL()
	cURL, _, _ := startServe(t, "--node-id", "c", "--nats-url", url)
	aURL, _, _ := startServe(t, "--node-id", "a", "--backend", "cluster", "--nats-url", url)
	waitReady(t, httpBase(aURL))
	wa := dialWidget(t, strings.TrimPrefix(httpBase(aURL), "http://"))
	wc := dialWidget(t, strings.TrimPrefix(httpBase(cURL), "http://"))
	createThenRetrieve(t, wa, wc, "Grace", "Hopper", [2]string{"A", "C"})
}

// --nats-url to a server without JetStream: serve exits 1 saying so.
func TestServeClusterNATSURLWithoutJetStream(t *testing.T) {
	ext, err := cluster.StartEmbedded(cluster.EmbedConfig{Name: "plain", ClientListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ext.Shutdown)
	code, _, stderr := cli(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--nats-url", ext.ClientURL())
	if code != 1 || !strings.Contains(stderr, "has no JetStream") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// --backend host in cluster mode: a widget on A is served by a host peer
// connected to B (serving every session), and the host sees A's session id.
func TestServeClusterHostPeerOnAnotherNode(t *testing.T) {
	an, bn := startPair(t, []string{"--node-id", "a", "--backend", "host"}, []string{"--node-id", "b", "--backend", "host"})
	aURL, bURL := an.url, bn.url

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	host, _, err := websocket.Dial(ctx, strings.TrimSuffix(bURL, protocol.PathWidget)+protocol.PathHost, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer host.CloseNow()
	if err := host.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"host.hello","params":{"sessions":"*","name":"crm-b"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := host.Read(ctx); err != nil || !strings.Contains(string(b), `"all":true`) {
		t.Fatalf("host.hello: %s, %v", b, err)
	}
	// The host peer answers every call with the session it was given.
	go func() {
		for {
			_, b, err := host.Read(ctx)
			if err != nil {
				return
			}
			var m struct {
				ID     json.RawMessage `json:"id"`
				Params struct {
					Session string `json:"session"`
				} `json:"params"`
			}
			if json.Unmarshal(b, &m) != nil || m.ID == nil {
				continue
			}
			_ = host.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{"id":"from-b","session":"`+m.Params.Session+`"}}`))
		}
	}()

	w := dialWidget(t, strings.TrimPrefix(httpBase(aURL), "http://"))
	// Routes announce B's subscription asynchronously: retry a -32002
	// (delivered false: nothing ran) until it is known.
	var out json.RawMessage
	for i := 0; ; i++ {
		out = w.call(i, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"Ada"}}`)
		if !strings.Contains(string(out), `"code":-32002`) || i > 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(out), `"id":"from-b"`) {
		t.Fatalf("widget on A: %s", out)
	}
	_, sessions := getBody(t, httpBase(aURL)+"/api/v1/sessions?scope=local")
	var list protocol.SessionList
	if err := json.Unmarshal([]byte(sessions), &list); err != nil || len(list.Sessions) != 1 || !strings.Contains(string(out), `"session":"`+list.Sessions[0].ID+`"`) {
		t.Fatalf("the host peer did not get A's session id: %s; A's sessions %s", out, sessions)
	}
}

// A widget resumes its session on another node with its resume token: the
// session moves (same id and token), the old node closes its socket with
// 4001 and forgets the session; a wrong token is -32004 and moves nothing.
func TestServeClusterSessionMoves(t *testing.T) {
	an, bn := startPair(t, []string{"--node-id", "a"}, []string{"--node-id", "b", "--backend", "cluster"})
	aURL, bURL := an.url, bn.url
	waitReady(t, httpBase(bURL))

	wa := dialWidget(t, strings.TrimPrefix(httpBase(aURL), "http://"))
	var hello struct {
		Result protocol.HelloResult `json:"result"`
	}
	if err := json.Unmarshal(wa.call(1, "bridge.hello", `{}`), &hello); err != nil || hello.Result.Session == "" || hello.Result.ResumeToken == "" {
		t.Fatalf("hello on A: %+v", hello)
	}
	id, token := hello.Result.Session, hello.Result.ResumeToken

	wb := dialWidget(t, strings.TrimPrefix(httpBase(bURL), "http://"))
	var refused struct {
		Error *protocol.Error `json:"error"`
	}
	// Routes announce A's subscriptions asynchronously: until they are
	// known, B sees no holder and would start a new session, so wait for
	// the cluster listing to show A first.
	for range 100 {
		_, body := getBody(t, httpBase(bURL)+"/api/v1/cluster/sessions?timeoutMs=300")
		if strings.Contains(body, id) {
			break
		}
	}
	if err := json.Unmarshal(wb.call(1, "bridge.hello", `{"session":"`+id+`","resumeToken":"wrong"}`), &refused); err != nil || refused.Error == nil || refused.Error.Code != protocol.CodeUnauthorized {
		t.Fatalf("resume on B with a wrong token: %+v", refused.Error)
	}
	if _, body := getBody(t, httpBase(aURL)+"/api/v1/sessions?scope=local"); !strings.Contains(body, id) {
		t.Fatalf("a refused resume moved the session off A: %s", body)
	}

	var moved struct {
		Result protocol.HelloResult `json:"result"`
	}
	if err := json.Unmarshal(wb.call(2, "bridge.hello", `{"session":"`+id+`","resumeToken":"`+token+`"}`), &moved); err != nil ||
		moved.Result.Session != id || moved.Result.ResumeToken != token || !moved.Result.Resumed {
		t.Fatalf("resume on B: %+v", moved.Result)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := wa.ws.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != protocol.CloseSessionMoved {
				t.Fatalf("A's widget socket: %v, want close 4001", err)
			}
			break
		}
	}
	if _, body := getBody(t, httpBase(aURL)+"/api/v1/sessions?scope=local"); strings.Contains(body, id) {
		t.Fatalf("A still holds the moved session: %s", body)
	}
	if _, body := getBody(t, httpBase(bURL)+"/api/v1/sessions?scope=local"); !strings.Contains(body, id) {
		t.Fatalf("B does not hold the moved session: %s", body)
	}
	if out := wb.call(3, "cif.createrecord", `{"entityName":"contact","value":{"firstname":"Moved"}}`); !strings.Contains(string(out), `"result"`) {
		t.Fatalf("create on B after the move: %s", out)
	}
}

// GET /api/v1/sessions on any node of a cluster lists every node's
// sessions, each with its node (the Go client reads them too); scope=local
// keeps to the node; /api/v1/cluster/sessions answers the same; a node
// that stops is named missing with when it was last seen.
func TestServeClusterSessionsFromAnyNode(t *testing.T) {
	an, bn := startPair(t, []string{"--node-id", "a"}, []string{"--node-id", "b", "--backend", "cluster"})
	aURL, bURL, stopB := an.url, bn.url, bn.stop
	a, b := httpBase(aURL), httpBase(bURL)
	waitReady(t, b)
	dialWidget(t, strings.TrimPrefix(a, "http://")).call(1, "bridge.hello", `{}`)
	wb := dialWidget(t, strings.TrimPrefix(b, "http://"))
	wb.call(1, "bridge.hello", `{}`)
	wb2 := dialWidget(t, strings.TrimPrefix(b, "http://"))
	wb2.call(1, "bridge.hello", `{}`)

	admin, err := client.NewAdmin(aURL, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var list protocol.SessionList
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if list, err = admin.SessionList(ctx); err != nil {
			t.Fatal(err)
		}
		if len(list.Sessions) == 3 {
			break
		}
	}
	perNode := map[string]int{}
	for _, s := range list.Sessions {
		perNode[s.Node]++
	}
	if perNode["a"] != 1 || perNode["b"] != 2 || len(list.Nodes) != 2 || list.Nodes[0].Node != "a" || list.Nodes[1].Node != "b" ||
		list.Nodes[1].Sessions != 2 || list.Nodes[1].Backend != "cluster" || list.Nodes[0].LastSeen.IsZero() || list.Missing == nil || len(list.Missing) != 0 || list.TimeoutMs != 500 {
		t.Fatalf("A's /api/v1/sessions: %+v", list)
	}
	// The old path answers the same list; the raw JSON keeps the single
	// node's shape and adds to it.
	code, body := getBody(t, a+"/api/v1/cluster/sessions")
	body = strings.Join(strings.Fields(body), "")
	for _, want := range []string{`"sessions":[`, `"node":"b"`, `"nodes":[`, `"missing":[]`, `"timeoutMs":500`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("/api/v1/cluster/sessions lacks %s: %d %s", want, code, body)
		}
	}
	local, err := admin.LocalSessions(ctx)
	if err != nil || len(local) != 1 || local[0].Node != "a" {
		t.Fatalf("A's sessions, scope=local: %+v %v", local, err)
	}
	if code, body := getBody(t, a+"/api/v1/sessions?scope=everything"); code != http.StatusBadRequest || !strings.Contains(body, "scope=local") {
		t.Fatalf("a bad scope: %d %s", code, body)
	}
	if code, body := getBody(t, a+"/api/v1/sessions?timeoutMs=0"); code != http.StatusBadRequest || !strings.Contains(body, "timeoutMs") {
		t.Fatalf("a bad timeoutMs: %d %s", code, body)
	}

	// Every series of a cluster node's /metrics carries its node.
	_, metrics := getBody(t, b+"/metrics")
	samples := 0
	for line := range strings.SplitSeq(metrics, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		samples++
		if strings.Count(line, `node="b"`) != 1 || strings.Count(line, `node="`) != 1 {
			t.Errorf("a series of B without its one node label: %s", line)
		}
	}
	if samples < 50 {
		t.Fatalf("only %d samples in B's metrics", samples)
	}

	lastSeenB := list.Nodes[1].LastSeen
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	list, err = admin.SessionList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 1 || list.Sessions[0].Node != "a" || len(list.Missing) != 1 || list.Missing[0] != "b" ||
		len(list.MissingNodes) != 1 || list.MissingNodes[0].Backend != "cluster" || list.MissingNodes[0].LastSeen.Before(lastSeenB) {
		t.Fatalf("A's sessions once B stopped: %+v", list)
	}
	st, err := admin.Status(ctx)
	if err != nil || st.Cluster == nil || len(st.Cluster.Missing) != 1 || st.Cluster.Missing[0] != "b" || len(st.Cluster.MissingNodes) != 1 {
		t.Fatalf("A's status once B stopped: %+v %v", st.Cluster, err)
	}
}
