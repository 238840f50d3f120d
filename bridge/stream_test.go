package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/sourcegraph/jsonrpc2"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

const streamToken = "stream-tok"

// streamWait bounds each stream's life and every other wait: snapshots come
// every second, so this only ends a test that would otherwise hang.
const streamWait = 30 * time.Second

// mountStream mounts the SSE stream as cifbridge serve does and returns a
// channel that receives once each time a stream handler returns.
func mountStream(tb *testBridge) <-chan struct{} {
	ended := make(chan struct{}, 8)
	h := tb.srv.StreamHandler()
	tb.srv.Mount("GET /api/v1/stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { ended <- struct{}{} }()
		h.ServeHTTP(w, r)
	}))
	return ended
}

// sseStream is a client of GET /api/v1/stream.
type sseStream struct {
	t      *testing.T
	r      *bufio.Reader
	cancel context.CancelFunc // the client going away
	last   *protocol.StreamSnapshot
}

func openStream(t *testing.T, tb *testBridge) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tb.url+"/api/v1/stream", nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+streamToken)
	resp, err := tb.hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /api/v1/stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{t: t, r: bufio.NewReader(resp.Body), cancel: cancel}
	if ev, err := s.read(); err != nil || ev["retry"] != "2000" || len(ev) != 1 {
		t.Fatalf("first block %v (%v), want retry: 2000", ev, err)
	}
	return s
}

// read reads one block (lines up to a blank line) as field → value; io.EOF
// when the server ended the stream cleanly.
func (s *sseStream) read() (map[string]string, error) {
	ev := map[string]string{}
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && len(ev) == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("after %q: %w", line, err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return ev, nil
		}
		k, v, _ := strings.Cut(line, ":")
		ev[k] += strings.TrimPrefix(v, " ")
	}
}

// snapshot reads the next event, which must be a snapshot.
func (s *sseStream) snapshot() protocol.StreamSnapshot {
	s.t.Helper()
	return s.waitFor("a snapshot", func(protocol.StreamSnapshot) bool { return true })
}

// waitFor reads snapshots until one satisfies ok, or fails the test when the
// stream ends or its deadline passes first.
func (s *sseStream) waitFor(what string, ok func(protocol.StreamSnapshot) bool) protocol.StreamSnapshot {
	s.t.Helper()
	for {
		ev, err := s.read()
		if err != nil {
			s.t.Fatalf("waiting for %s: %v (last snapshot %+v)", what, err, s.last)
		}
		var snap protocol.StreamSnapshot
		if ev["event"] != "snapshot" || json.Unmarshal([]byte(ev["data"]), &snap) != nil {
			s.t.Fatalf("waiting for %s: event %v, want a snapshot", what, ev)
		}
		s.last = &snap
		if ok(snap) {
			return snap
		}
	}
}

func sessionOf(snap protocol.StreamSnapshot, id string) protocol.StreamSession {
	for _, x := range snap.Sessions {
		if x.ID == id {
			return x
		}
	}
	return protocol.StreamSession{}
}

// hostCall is one request a streamHost received; closing release answers it.
type hostCall struct {
	session, entityID string
	release           chan struct{}
}

// startStreamHost connects a host peer for every session. It reports each
// request on the returned channel and answers only once the test closes the
// call's release (or never: the handler returns when the connection closes).
func startStreamHost(t *testing.T, tb *testBridge, buffer int) <-chan hostCall {
	t.Helper()
	got := make(chan hostCall, buffer)
	h := jsonrpc2.HandlerWithError(func(ctx context.Context, _ *jsonrpc2.Conn, r *jsonrpc2.Request) (any, error) {
		var p struct {
			Session  string `json:"session"`
			EntityID string `json:"entityId"`
		}
		if r.Params != nil {
			json.Unmarshal(*r.Params, &p)
		}
		c := hostCall{session: p.Session, entityID: p.EntityID, release: make(chan struct{})}
		got <- c
		select {
		case <-c.release:
			return map[string]string{"answered": p.EntityID}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	tb.dialHost(t, h, streamToken, "*", "stream-host")
	return got
}

func recvCall(t *testing.T, got <-chan hostCall) hostCall {
	t.Helper()
	select {
	case c := <-got:
		return c
	case <-time.After(streamWait):
		t.Fatal("the host peer received no call")
		return hostCall{}
	}
}

func waitEnded(t *testing.T, ended <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(streamWait):
		t.Fatalf("the stream handler did not return after %s", why)
	}
}

func authDial(t *testing.T, tb *testBridge) *wsClient {
	t.Helper()
	return tb.dial(t, protocol.PathWidget, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + streamToken}}})
}

// retrieve sends cif.retrieverecord with the given JSON-RPC id and does not
// wait for the answer.
func retrieve(c *wsClient, id int, entityID string) {
	c.send(string(protocol.AppendRequest(nil, json.RawMessage(fmt.Sprint(id)), protocol.MethodRetrieveRecord,
		testutil.MustJSON(c.t, map[string]any{"entityName": "contact", "entityId": entityID}))))
}

func TestStreamAuth(t *testing.T) {
	tb := startBridge(t, bridge.Config{HostBackend: true, Token: streamToken})
	mountStream(tb)
	for _, tt := range []struct {
		name, query, header string
	}{
		{name: "no token"},
		{name: "wrong bearer", header: "Bearer nope"},
		{name: "wrong access_token", query: "?access_token=nope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tb.url+"/api/v1/stream"+tt.query, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := tb.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "event:") {
				t.Fatalf("%d %s, want 401 without events", resp.StatusCode, body)
			}
		})
	}
	// EventSource cannot set headers: the token in the query works.
	resp, err := tb.hc.Get(tb.url + "/api/v1/stream?access_token=" + streamToken)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with ?access_token: %d", resp.StatusCode)
	}
}

// TestStreamLifecycle follows real calls through the stream: in flight in the
// first snapshot, answered, abandoned by a widget that went away (a late
// record) and answered late; then the stream ends when its client goes away
// and, for another client, when the server shuts down.
func TestStreamLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{HostBackend: true, Token: streamToken, Profile: protocol.ProfileCIF2, DrainTimeout: time.Minute})
		ended := mountStream(tb)
		calls := startStreamHost(t, tb, 8)

		w1, w2 := authDial(t, tb), authDial(t, tb)
		s1, s2 := hello(t, w1).Session, hello(t, w2).Session
		retrieve(w1, 101, "aaaaaaaa-0000-4000-8000-000000000001")
		a := recvCall(t, calls)
		retrieve(w2, 201, "bbbbbbbb-0000-4000-8000-000000000002")
		b := recvCall(t, calls)
		if a.session != s1 || b.session != s2 {
			t.Fatalf("host saw sessions %s, %s; want %s, %s", a.session, b.session, s1, s2)
		}

		st := openStream(t, tb)
		first := st.snapshot()
		if first.Backend != "host" || first.Hosts != 1 || first.Draining || first.SessionsTotal != 2 || first.Correlation.InFlight != 2 || first.Correlation.Late != 0 {
			t.Fatalf("first snapshot %+v", first)
		}
		var attemptB string
		for _, tt := range []struct {
			session, requestID string
		}{{s1, "101"}, {s2, "201"}} {
			x := sessionOf(first, tt.session)
			if x.ID == "" || x.Profile != protocol.ProfileCIF2 || x.TimeoutMs != protocol.TimeoutCIF2Ms || x.Connections != 1 ||
				x.InFlightCount != 1 || len(x.InFlight) != 1 || x.LateCount != 0 || len(x.Late) != 0 {
				t.Fatalf("session %s in the first snapshot: %+v", tt.session, x)
			}
			at := x.InFlight[0]
			if at.Method != protocol.MethodRetrieveRecord || string(at.RequestID) != tt.requestID || at.State != "inflight" ||
				at.Session != tt.session || at.LeftMs <= 0 || at.LeftMs > protocol.TimeoutCIF2Ms || at.OverdueMs != 0 || at.ID == "" {
				t.Fatalf("in-flight attempt of %s: %+v", tt.session, at)
			}
			if tt.session == s2 {
				attemptB = at.ID
			}
		}

		// Answered in time: the attempt leaves the in-flight list.
		close(a.release)
		if r := w1.recvReply(); string(r.ID) != "101" || r.Error != nil {
			t.Fatalf("reply to 101: %+v %s", r.Error, r.Result)
		}
		snap := st.waitFor("session 1's call answered", func(s protocol.StreamSnapshot) bool {
			return sessionOf(s, s1).InFlightCount == 0
		})
		if x := sessionOf(snap, s1); len(x.InFlight) != 0 || x.LateCount != 0 || snap.Correlation.InFlight != 1 {
			t.Fatalf("after the answer: %+v (correlation %+v)", x, snap.Correlation)
		}

		// The widget goes away: its attempt becomes a late record.
		w2.ws.Close(websocket.StatusNormalClosure, "")
		snap = st.waitFor("session 2's call abandoned", func(s protocol.StreamSnapshot) bool {
			return sessionOf(s, s2).LateCount == 1
		})
		x := sessionOf(snap, s2)
		if x.InFlightCount != 0 || len(x.InFlight) != 0 || len(x.Late) != 1 || x.Connections != 0 ||
			snap.Correlation.Late != 1 || snap.Correlation.Abandoned != 1 {
			t.Fatalf("after the disconnect: %+v (correlation %+v)", x, snap.Correlation)
		}
		if l := x.Late[0]; l.ID != attemptB || l.State != "abandoned" || string(l.RequestID) != "201" || l.LeftMs != 0 {
			t.Fatalf("late record %+v, want attempt %s abandoned", l, attemptB)
		}

		// Its late answer retires the late record.
		close(b.release)
		snap = st.waitFor("the late answer", func(s protocol.StreamSnapshot) bool {
			return s.Correlation.LateAnswers == 1
		})
		if x := sessionOf(snap, s2); x.LateCount != 0 || len(x.Late) != 0 || snap.Correlation.Late != 0 || snap.Correlation.InFlight != 0 {
			t.Fatalf("after the late answer: %+v (correlation %+v)", x, snap.Correlation)
		}

		// A second client goes away: its handler returns.
		gone := openStream(t, tb)
		gone.snapshot()
		gone.cancel()
		waitEnded(t, ended, "the client went away")

		// Shutdown drains a call still in flight (the stream says so), then the
		// stream ends cleanly.
		retrieve(w1, 102, "cccccccc-0000-4000-8000-000000000003")
		c := recvCall(t, calls)
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), streamWait)
			defer cancel()
			shut <- tb.srv.Shutdown(ctx)
		}()
		st.waitFor("draining", func(s protocol.StreamSnapshot) bool { return s.Draining })
		close(c.release)
		if r := w1.recvReply(); string(r.ID) != "102" || r.Error != nil {
			t.Fatalf("reply to 102 while draining: %+v %s", r.Error, r.Result)
		}
		// Keep reading so the widget answers the bridge's close (1001) at once.
		closed := make(chan websocket.StatusCode, 1)
		go func() {
			for {
				if _, _, err := w1.ws.Read(context.Background()); err != nil {
					closed <- websocket.CloseStatus(err)
					return
				}
			}
		}()
		for {
			ev, err := st.read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("stream after shutdown: %v", err)
			}
			if ev["event"] != "snapshot" {
				t.Fatalf("event %v while draining", ev)
			}
		}
		waitEnded(t, ended, "Shutdown")
		if err := <-shut; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		select {
		case code := <-closed:
			if code != websocket.StatusGoingAway {
				t.Fatalf("widget closed with %v, want 1001 going away", code)
			}
		case <-time.After(streamWait):
			t.Fatal("the widget was not closed by Shutdown")
		}
	})
}

// TestStreamTimedOutAttempt: an attempt past the CIF timeout is listed as a
// late record until its late answer.
func TestStreamTimedOutAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{HostBackend: true, Token: streamToken, Timeout: 200 * time.Millisecond})
		mountStream(tb)
		calls := startStreamHost(t, tb, 1)
		w := authDial(t, tb)
		s := hello(t, w).Session
		st := openStream(t, tb)

		retrieve(w, 7, "dddddddd-0000-4000-8000-000000000004")
		c := recvCall(t, calls)
		r := w.recvReply()
		wantCode(t, r, protocol.CodeTimeout)
		var data protocol.TimeoutData
		if err := json.Unmarshal(r.Error.Data, &data); err != nil || data.AttemptID == "" {
			t.Fatalf("timeout data %s: %v", r.Error.Data, err)
		}
		snap := st.waitFor("the late record", func(x protocol.StreamSnapshot) bool { return sessionOf(x, s).LateCount == 1 })
		x := sessionOf(snap, s)
		if len(x.Late) != 1 || x.InFlightCount != 0 || snap.Correlation.Timeouts != 1 {
			t.Fatalf("after the timeout: %+v (correlation %+v)", x, snap.Correlation)
		}
		if l := x.Late[0]; l.ID != data.AttemptID || l.State != "timedout" || string(l.RequestID) != "7" || l.ElapsedMs < 200 || l.LeftMs != 0 {
			t.Fatalf("late record %+v, want attempt %s timed out", l, data.AttemptID)
		}

		close(c.release)
		snap = st.waitFor("the late answer", func(x protocol.StreamSnapshot) bool { return x.Correlation.LateAnswers == 1 })
		if x := sessionOf(snap, s); x.LateCount != 0 || len(x.Late) != 0 {
			t.Fatalf("after the late answer: %+v", x)
		}
	})
}

// TestStreamBound puts 550 calls in flight over three sessions (more than
// the 500 a snapshot lists) with a host peer that never answers: the
// snapshot lists the 500 nearest their deadline and still counts all.
func TestStreamBound(t *testing.T) {
	tb := startBridge(t, bridge.Config{HostBackend: true, Token: streamToken, Profile: protocol.ProfileCIF2,
		MaxInFlight: 256, DrainTimeout: 50 * time.Millisecond})
	mountStream(tb)
	const total = 550
	calls := startStreamHost(t, tb, total)
	sent := []int{200, 200, 150} // sent one session after the other
	var ids []string
	for i, n := range sent {
		w := authDial(t, tb)
		ids = append(ids, hello(t, w).Session)
		for j := range n {
			retrieve(w, 1000*(i+1)+j, fmt.Sprintf("eeeeeeee-0000-4000-8000-%012d", j))
		}
		for range n { // all registered before the next session starts
			recvCall(t, calls)
		}
	}

	st := openStream(t, tb)
	snap := st.snapshot()
	if snap.Correlation.InFlight != total || snap.SessionsTotal != len(sent) {
		t.Fatalf("snapshot: %d in flight, %d sessions; want %d, %d", snap.Correlation.InFlight, snap.SessionsTotal, total, len(sent))
	}
	// The earliest deadlines are the first two sessions' and the first 100
	// of the third's.
	listed := 0
	for i, id := range ids {
		x := sessionOf(snap, id)
		want := min(sent[i], 500-(200*i))
		if x.InFlightCount != sent[i] || len(x.InFlight) != want {
			t.Errorf("session %d: inflightCount %d, listed %d; want %d, %d", i, x.InFlightCount, len(x.InFlight), sent[i], want)
		}
		for j, at := range x.InFlight {
			if j > 0 && at.Started.Before(x.InFlight[j-1].Started) {
				t.Fatalf("session %d: attempts not in start order at %d", i, j)
			}
		}
		listed += len(x.InFlight)
	}
	if listed != 500 {
		t.Fatalf("listed %d attempts, want 500", listed)
	}
}

// smallSendBuffer shrinks the send buffer of every accepted connection, so a
// client that stops reading fills the TCP window after a few kilobytes.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestStreamStalledClient: a dashboard that sends the GET and then never
// reads cannot hold its handler in Write: the write deadline passes, the
// handler returns and http.Server.Shutdown completes.
func TestStreamStalledClient(t *testing.T) {
	defer bridge.SetStreamWriteTimeout(200 * time.Millisecond)()
	tb := startBridge(t, bridge.Config{HostBackend: true, Token: streamToken, MaxInFlight: 256, DrainTimeout: 50 * time.Millisecond})
	started, ended := make(chan struct{}, 1), make(chan struct{}, 1)
	h := tb.srv.StreamHandler()
	tb.srv.Mount("GET /api/v1/stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		defer func() { ended <- struct{}{} }()
		h.ServeHTTP(w, r)
	}))
	// 250 calls the host never answers make every snapshot tens of
	// kilobytes, far more than the stalled connection can buffer.
	const n = 250
	calls := startStreamHost(t, tb, n)
	w := authDial(t, tb)
	hello(t, w)
	for j := range n {
		retrieve(w, j+1, fmt.Sprintf("ffffffff-0000-4000-8000-%012d", j))
	}
	for range n {
		recvCall(t, calls)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: tb.srv.Handler()}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(smallSendBuffer{ln}) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(conn, "GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+streamToken+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(streamWait):
		t.Fatal("the stream handler did not start")
	}
	// The handler is now writing a snapshot nobody reads.
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	if err := tb.srv.Shutdown(ctx); err != nil {
		t.Fatalf("bridge shutdown: %v", err)
	}
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("http shutdown with a stalled stream client: %v", err)
	}
	waitEnded(t, ended, "its client stalled")
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
}

// TestStreamRecentLate: the stream lists each late record that ended with
// its own lateByMs and outcome, exactly as bridge.late told the widget: a
// late success and a late failure (with its error), newest first.
func TestStreamRecentLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := startBridgeInBubble(t, bridge.Config{HostBackend: true, Token: streamToken, Timeout: 150 * time.Millisecond})
		mountStream(tb)

		// A host peer that answers each call when the test says: success for
		// entity …01, a Dataverse failure for …02.
		type held struct {
			entityID string
			release  chan struct{}
		}
		got := make(chan held, 2)
		h := jsonrpc2.HandlerWithError(func(ctx context.Context, _ *jsonrpc2.Conn, r *jsonrpc2.Request) (any, error) {
			var p struct {
				EntityID string `json:"entityId"`
			}
			json.Unmarshal(*r.Params, &p)
			c := held{p.EntityID, make(chan struct{})}
			got <- c
			select {
			case <-c.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if p.EntityID == "bbbbbbbb-0000-4000-8000-000000000002" {
				return nil, &jsonrpc2.Error{Code: protocol.CodeBackend, Message: "the record is locked"}
			}
			return map[string]string{"contactid": p.EntityID}, nil
		})
		tb.dialHost(t, h, streamToken, "*", "late-host")

		w := authDial(t, tb)
		sess := hello(t, w).Session
		st := openStream(t, tb)
		if first := st.snapshot(); first.RecentLate == nil || len(first.RecentLate) != 0 {
			t.Fatalf("recentLate before any late record: %#v, want []", first.RecentLate)
		}

		// lateOne sends a retrieve that times out, answers it late and returns
		// the bridge.late params the widget received.
		lateOne := func(id int, entityID string) protocol.LateParams {
			t.Helper()
			retrieve(w, id, entityID)
			c := <-got
			if r := w.recvReply(); r.Error == nil || r.Error.Code != protocol.CodeTimeout {
				t.Fatalf("call %d: %+v, want the CIF timeout", id, r)
			}
			close(c.release)
			for {
				r := w.recvReply()
				if r.Method == protocol.NotifyLate {
					var p protocol.LateParams
					if err := json.Unmarshal(r.Params, &p); err != nil {
						t.Fatal(err)
					}
					return p
				}
			}
		}
		ok := lateOne(11, "aaaaaaaa-0000-4000-8000-000000000001")
		bad := lateOne(12, "bbbbbbbb-0000-4000-8000-000000000002")
		if ok.Outcome != protocol.OutcomeSuccess || bad.Outcome != protocol.OutcomeFailure {
			t.Fatalf("bridge.late outcomes %q, %q", ok.Outcome, bad.Outcome)
		}

		snap := st.waitFor("two ended late records", func(s protocol.StreamSnapshot) bool { return len(s.RecentLate) == 2 })
		for i, want := range []protocol.LateParams{bad, ok} { // newest first
			e := snap.RecentLate[i]
			if e.Session != sess || e.AttemptID != want.AttemptID || e.Method != protocol.MethodRetrieveRecord ||
				e.Outcome != want.Outcome || e.LateByMs != want.LateByMs || e.State != "timedout" || e.At.IsZero() {
				t.Errorf("recentLate[%d] = %+v, want the bridge.late %+v", i, e, want)
			}
		}
		if e := snap.RecentLate[0].Error; e == nil || e.Code != protocol.CodeBackend || e.Message != "the record is locked" {
			t.Errorf("late failure's error %+v", e)
		}
		if snap.RecentLate[1].Error != nil {
			t.Errorf("late success carries an error: %+v", snap.RecentLate[1].Error)
		}
	})
}
