package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

func dial(t *testing.T, d *daemon, o client.Options) *client.Conn {
	t.Helper()
	o.HTTPClient = d.opts.HTTPClient
	c, err := client.Dial(t.Context(), d.url, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slowFirstCreate: a daemon in a synctest bubble whose first create takes
// ms, with the retry engine and a ledger when asked.
func slowFirstCreate(ms int, withLedger bool) daemonConfig {
	return daemonConfig{bubble: true, ledger: withLedger,
		faults: &protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: ms, Count: 1}}}}
}

// TestCIFCalls: every typed CIF 1.0 method against the emulator, with the
// hello the client says on connect.
func TestCIFCalls(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	c := dial(t, d, client.Options{Profile: protocol.ProfileCIF2, Client: "client-test"})
	ctx := t.Context()

	h := c.Hello()
	if h.Session == "" || c.Session() != h.Session || h.Profile != protocol.ProfileCIF2 || h.TimeoutMs != protocol.TimeoutCIF2Ms || h.Resumed {
		t.Fatalf("hello = %+v", h)
	}
	if !d.sawFrame("widget in", `"client":"client-test"`, `"profile":"cif2"`) {
		t.Error("bridge.hello did not carry the client name and profile")
	}

	created, err := c.CreateRecord(ctx, "contact", map[string]any{"firstname": "Ada", "lastname": "Lovelace", "telephone1": "+358401234567"})
	if err != nil || created.EntityType != "contact" || created.ID == "" {
		t.Fatalf("CreateRecord = %+v, %v", created, err)
	}
	rec, err := c.RetrieveRecord(ctx, "contact", created.ID, "?$select=firstname")
	if err != nil || !strings.Contains(string(rec), `"Ada"`) {
		t.Fatalf("RetrieveRecord = %s, %v", rec, err)
	}
	if up, err := c.UpdateRecord(ctx, "contact", created.ID, json.RawMessage(`{"firstname":"Augusta"}`)); err != nil || up.ID != created.ID {
		t.Fatalf("UpdateRecord = %+v, %v", up, err)
	}
	found, err := c.Search(ctx, "contact", "?$select=firstname&$filter=lastname eq 'Lovelace'")
	if err != nil || len(found) != 1 || !strings.Contains(string(found[0]), `"Augusta"`) {
		t.Fatalf("Search = %s, %v", found, err)
	}
	env, err := c.GetEnvironment(ctx)
	if err != nil || len(env) == 0 {
		t.Fatalf("GetEnvironment = %v, %v", env, err)
	}
	if md, err := c.GetEntityMetadata(ctx, "contact", "firstname"); err != nil || !strings.Contains(string(md), "firstname") {
		t.Fatalf("GetEntityMetadata = %s, %v", md, err)
	}
	if err := c.SetMode(ctx, client.ModeDocked); err != nil {
		t.Fatal(err)
	}
	if m, err := c.GetMode(ctx); err != nil || m != client.ModeDocked {
		t.Fatalf("GetMode = %d, %v", m, err)
	}
	if err := c.SetWidth(ctx, 420); err != nil {
		t.Fatal(err)
	}
	if w, err := c.GetWidth(ctx); err != nil || w != 420 {
		t.Fatalf("GetWidth = %d, %v", w, err)
	}
	if err := c.SetClickToAct(ctx, true); err != nil {
		t.Fatal(err)
	}
	if on, err := c.GetClickToAct(ctx); err != nil || !on {
		t.Fatalf("GetClickToAct = %v, %v", on, err)
	}
	if del, err := c.DeleteRecord(ctx, "contact", created.ID); err != nil || del.ID != created.ID {
		t.Fatalf("DeleteRecord = %+v, %v", del, err)
	}
	if st, err := d.emu.Stats(), error(nil); err != nil || st.Operations["createrecord"] != 1 || st.Operations["deleterecord"] != 1 {
		t.Errorf("emulator operations = %v", st.Operations)
	}
}

// TestErrors: the bridge's errors are *protocol.Error for errors.As, and
// match the protocol sentinels with errors.Is.
func TestErrors(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	c := dial(t, d, client.Options{})
	ctx := t.Context()

	_, err := c.RetrieveRecord(ctx, "contact", "00000000-0000-0000-0000-000000000001", "")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeBackend || !errors.Is(err, protocol.ErrBackend) {
		t.Fatalf("missing record: %v (%T), want a -32001 *protocol.Error", err, err)
	}
	if bd, ok := protocol.BackendData(err); !ok || bd.HTTPStatus != 404 {
		t.Errorf("backend data = %+v, %v", bd, ok)
	}

	_, err = c.CreateRecord(ctx, "", map[string]any{"firstname": "Ada"})
	if !errors.Is(err, protocol.ErrInvalidParams) || !strings.Contains(err.Error(), "entityName") {
		t.Errorf("empty entity: %v, want -32602 naming entityName", err)
	}
	if err := c.Call(ctx, "cif.nosuchcall", struct{}{}, nil); !errors.Is(err, protocol.ErrMethodNotFound) {
		t.Errorf("unknown method: %v, want -32601", err)
	}
	if _, err := c.CreateRecord(ctx, "contact", []int{1}); err == nil || errors.As(err, &pe) {
		t.Errorf("a non-object record: %v, want a client-side error", err)
	}
	if _, err := client.Dial(ctx, d.url, &client.Options{Profile: "cif3"}); !errors.Is(err, protocol.ErrInvalidParams) {
		t.Errorf("unknown profile: %v, want -32602 from bridge.hello", err)
	}
}

// TestEvents: an event raised through the admin API reaches OnEvent, and
// OnEvent's answer (or error) is what the admin API gets back.
func TestEvents(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	type ev struct {
		name string
		data string
	}
	got := make(chan ev, 2)
	c := dial(t, d, client.Options{OnEvent: func(_ context.Context, event string, data json.RawMessage) (any, error) {
		got <- ev{event, string(data)}
		if event == "onmodechanged" {
			return nil, protocol.Errorf(protocol.CodeBackend, "mode change refused")
		}
		return map[string]bool{"handled": true}, nil
	}})
	ctx := t.Context()

	res, err := d.admin.RaiseEvent(ctx, c.Session(), "onclicktoact", json.RawMessage(`{"value":"+358401234567"}`))
	var answer struct{ Handled bool }
	if err != nil || json.Unmarshal(res, &answer) != nil || !answer.Handled {
		t.Fatalf("RaiseEvent = %s, %v", res, err)
	}
	if e := <-got; e.name != "onclicktoact" || e.data != `{"value":"+358401234567"}` {
		t.Errorf("OnEvent got %+v", e)
	}
	_, err = d.admin.RaiseEvent(ctx, c.Session(), "onmodechanged", json.RawMessage(`{"value":1}`))
	if !errors.Is(err, protocol.ErrBackend) || !strings.Contains(err.Error(), "mode change refused") {
		t.Errorf("refused event: %v, want the widget's -32001", err)
	}
}

// TestTimeoutAndLate: a create past the 10 s CIF timeout fails with
// protocol.ErrTimeout at exactly 10 s; its late answer reaches OnLate at
// 12 s; the admin API's typed session shows it.
func TestTimeoutAndLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDaemon(t, slowFirstCreate(12_000, false))
		late := make(chan protocol.LateParams, 1)
		c := dial(t, d, client.Options{OnLate: func(p protocol.LateParams) { late <- p }})
		ctx := context.Background()

		start := time.Now()
		_, err := c.CreateRecord(ctx, "contact", map[string]string{"firstname": "Late"})
		if !errors.Is(err, protocol.ErrTimeout) || time.Since(start) != 10*time.Second {
			t.Fatalf("CreateRecord after %v: %v, want -32000 at 10s", time.Since(start), err)
		}
		var pe *protocol.Error
		errors.As(err, &pe)
		var td protocol.TimeoutData
		if json.Unmarshal(pe.Data, &td) != nil || td.AttemptID == "" || pe.Message != protocol.TimeoutMessage {
			t.Fatalf("timeout error = %+v", pe)
		}
		p := <-late
		if time.Since(start) != 12*time.Second || p.AttemptID != td.AttemptID || p.Outcome != protocol.OutcomeSuccess ||
			p.Method != protocol.MethodCreateRecord || p.LateByMs != 2000 || !strings.Contains(string(p.Result), `"contact"`) {
			t.Fatalf("bridge.late at %v: %+v", time.Since(start), p)
		}
		info, err := d.admin.Session(ctx, c.Session())
		if err != nil || info.LateCounts.Answered != 1 || len(info.InFlight) != 0 {
			t.Fatalf("admin session = %+v, %v", info, err)
		}
	})
}

// TestLedger: an enreach.xrm.createRecord whose first attempt times out
// and is retried reports the possible duplicate; when the late answer
// proves two records exist, OnLedger gets the confirmed entry and the
// admin API lists it typed.
func TestLedger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDaemon(t, slowFirstCreate(12_000, true))
		ledgerCh := make(chan protocol.LedgerEntry, 4)
		c := dial(t, d, client.Options{OnLedger: func(p protocol.LedgerParams) { ledgerCh <- p.Entry }})
		ctx := context.Background()

		delay := 0
		res, err := c.XrmCreateRecord(ctx, protocol.XrmCreateParams{EntityLogicalName: "contact", Data: json.RawMessage(`{"firstname":"Twice"}`), Delay: &delay})
		if err != nil || res.ID == "" || res.Attempts != 2 || !res.PossibleDuplicate || res.LedgerID == "" {
			t.Fatalf("XrmCreateRecord = %+v, %v", res, err)
		}
		var e protocol.LedgerEntry
		for e.Status != protocol.LedgerConfirmed {
			select {
			case e = <-ledgerCh:
			case <-time.After(time.Minute):
				t.Fatalf("no confirmed bridge.ledger; last %+v", e)
			}
		}
		if e.ID != res.LedgerID || len(e.RecordIDs) != 2 || len(e.Attempts) != 2 || e.Attempts[0].Outcome != protocol.LedgerOutcomeLateSuccess {
			t.Fatalf("confirmed entry = %+v", e)
		}
		list, err := d.admin.Ledger(ctx, client.LedgerFilter{Session: c.Session()})
		if err != nil || len(list) != 1 || list[0].ID != e.ID || list[0].Status != protocol.LedgerConfirmed {
			t.Fatalf("admin ledger = %+v, %v", list, err)
		}
		acked, err := d.admin.Acknowledge(ctx, e.ID, "two contacts, merged")
		if err != nil || acked.Status != protocol.LedgerAcknowledged || acked.Note != "two contacts, merged" {
			t.Fatalf("Acknowledge = %+v, %v", acked, err)
		}
		if got, err := d.admin.LedgerEntry(ctx, e.ID); err != nil || got.Version != acked.Version {
			t.Fatalf("LedgerEntry = %+v, %v", got, err)
		}
		if _, err := d.admin.LedgerEntry(ctx, "nope"); !errors.As(err, new(*protocol.Error)) {
			t.Errorf("unknown entry: %v, want the bridge's error", err)
		}
	})
}

// TestResume: a second connection resumes the session by id and resume
// token; the token goes out in bridge.hello.
func TestResume(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	c1 := dial(t, d, client.Options{})
	session, token := c1.Session(), c1.ResumeToken()
	if token == "" {
		t.Fatal("bridge.hello gave no resumeToken")
	}
	c1.Close()
	if err := c1.Call(t.Context(), protocol.MethodGetMode, struct{}{}, nil); !errors.Is(err, client.ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}

	o := *d.opts
	c2, err := client.Resume(t.Context(), d.url, session, token, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if h := c2.Hello(); !h.Resumed || h.Session != session || c2.ResumeToken() != token {
		t.Fatalf("resumed hello = %+v, token %q", h, c2.ResumeToken())
	}
	if !d.sawFrame("widget in", `"session":"`+session+`"`, `"resumeToken":"`+token+`"`) {
		t.Error("bridge.hello did not carry the session and its resume token")
	}
	if o.Session != "" || o.ResumeToken != "" {
		t.Errorf("Resume changed the caller's Options: %+v", o)
	}
}

// TestReconnectNeverResends: the socket drops while a create is in
// flight. The create fails with ErrDisconnected and is not re-sent (the
// emulator executed it exactly once); the Conn redials, resumes its
// session, and the next call goes through.
func TestReconnectNeverResends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDaemon(t, slowFirstCreate(3_000, false))
		reconnected := make(chan protocol.HelloResult, 1)
		c := dial(t, d, client.Options{Reconnect: true, OnReconnect: func(h protocol.HelloResult, err error) {
			if err != nil {
				t.Errorf("reconnect: %v", err)
			}
			reconnected <- h
		}})
		ctx := context.Background()
		session := c.Session()

		errc := make(chan error, 1)
		go func() {
			_, err := c.CreateRecord(ctx, "contact", map[string]string{"firstname": "Once"})
			errc <- err
		}()
		time.Sleep(time.Second) // the create is at the emulator
		d.conns.cut()
		if err := <-errc; !errors.Is(err, client.ErrDisconnected) || !strings.Contains(err.Error(), "not re-sent") {
			t.Fatalf("in-flight create: %v, want ErrDisconnected", err)
		}
		h := <-reconnected
		if !h.Resumed || h.Session != session || c.Session() != session {
			t.Fatalf("reconnect hello = %+v, want session %s resumed", h, session)
		}
		if err := c.SetWidth(ctx, 300); err != nil {
			t.Fatalf("SetWidth after reconnect: %v", err)
		}
		time.Sleep(5 * time.Second) // the dropped create completes at the emulator
		if n := d.emu.Stats().Operations["createrecord"]; n != 1 {
			t.Fatalf("the emulator ran %d creates, want exactly 1", n)
		}
	})
}

// TestNoReconnect: without Reconnect a dropped Conn fails every call.
func TestNoReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDaemon(t, daemonConfig{bubble: true})
		c := dial(t, d, client.Options{})
		d.conns.cut()
		synctest.Wait()
		if err := c.Call(context.Background(), protocol.MethodGetMode, struct{}{}, nil); !errors.Is(err, client.ErrDisconnected) {
			t.Fatalf("call after the drop: %v, want ErrDisconnected", err)
		}
	})
}

// TestRawConn: DialRaw speaks the same subprotocol and token, frame by
// frame; a refused token is the bridge's *protocol.Error.
func TestRawConn(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	ctx := t.Context()
	rc, err := client.DialRaw(ctx, d.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.CloseNow()
	if err := rc.Write(ctx, []byte(`{"jsonrpc":"2.0","id":7,"method":"cif.getwidth","params":{}}`)); err != nil {
		t.Fatal(err)
	}
	b, err := rc.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"id":7`) {
		t.Fatalf("Read = %s, %v", b, err)
	}
	if err := rc.Close("done"); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestToken: the bearer token goes out on every dial; without it the
// bridge's refusal is a *protocol.Error (-32004) from Dial and DialRaw.
func TestToken(t *testing.T) {
	d := startDaemon(t, daemonConfig{token: "s3cret"})
	ctx := t.Context()
	for _, o := range []*client.Options{nil, {Token: "wrong"}} {
		if _, err := client.Dial(ctx, d.url, o); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Errorf("Dial with %+v: %v, want -32004", o, err)
		}
		if _, err := client.DialRaw(ctx, d.url, o); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Errorf("DialRaw with %+v: %v, want -32004", o, err)
		}
	}
	c := dial(t, d, client.Options{Token: "s3cret"})
	if _, err := c.GetMode(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := (&client.Admin{Base: d.admin.Base}).Status(ctx); !errors.Is(err, protocol.ErrUnauthorized) {
		t.Errorf("admin without the token: %v, want -32004", err)
	}
	if _, err := d.admin.Status(ctx); err != nil {
		t.Errorf("admin with the token: %v", err)
	}
}

// TestAdmin: the admin client's typed reads.
func TestAdmin(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	c := dial(t, d, client.Options{Client: "admin-test"})
	ctx := t.Context()
	st, err := d.admin.Status(ctx)
	if err != nil || st.Sessions != 1 || st.Backend == "" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	l, err := d.admin.Sessions(ctx)
	if err != nil || len(l) != 1 || l[0].ID != c.Session() || l[0].Client != "admin-test" || l[0].InFlight == nil {
		t.Fatalf("Sessions = %+v, %v", l, err)
	}
	if err := d.admin.PutFaults(ctx, []byte(`{"rules":[{"method":"getmode","drop":true}]}`)); err != nil {
		t.Fatal(err)
	}
	if s, err := d.admin.EmulatorStats(ctx); err != nil || s.Tables["contact"].Records != 0 {
		t.Fatalf("EmulatorStats = %+v, %v", s, err)
	}
	if _, err := d.admin.Ledger(ctx, client.LedgerFilter{}); !errors.Is(err, client.ErrNotServed) {
		t.Errorf("Ledger without one: %v, want ErrNotServed", err)
	}
	if _, err := d.admin.Session(ctx, "nope"); !errors.Is(err, protocol.ErrNoBackend) {
		t.Errorf("unknown session: %v", err)
	}
	if b, err := client.HTTPBase("wss://bridge.example.com:8443/v1/widget"); err != nil || b != "https://bridge.example.com:8443" {
		t.Errorf("HTTPBase = %q, %v", b, err)
	}
	if _, err := client.HTTPBase("http://x/v1/widget"); err == nil {
		t.Error("HTTPBase accepted http://")
	}
}

// TestSessionMovedStops: when another connection resumes the session, the
// bridge closes the first with 4001 and the first Conn stops instead of
// resuming the session back (a tug of war).
func TestSessionMovedStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDaemon(t, daemonConfig{bubble: true})
		o := *d.opts
		o.Reconnect = true
		c1 := dial(t, d, o)
		c2, err := client.Resume(t.Context(), d.url, c1.Session(), c1.ResumeToken(), d.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		// Once the bubble settles, the 4001 has reached c1 and any
		// reconnect backoff (a fake-time wait) is blocked: c1 must be down
		// for good, not redialling.
		time.Sleep(time.Minute)
		synctest.Wait()
		if err := c1.Call(t.Context(), protocol.MethodGetMode, struct{}{}, nil); !errors.Is(err, client.ErrSessionMoved) {
			t.Fatalf("the first Conn after its session moved: %v, want ErrSessionMoved", err)
		}
		if err := c2.Call(t.Context(), protocol.MethodGetMode, struct{}{}, nil); err != nil {
			t.Fatalf("the resuming Conn lost the session: %v", err)
		}
	})
}
