package retry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/ledgertest"
	"github.com/cifbridge/cifbridge/bridge/retry"
	cifclient "github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/internal/pipenet"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// rig is a real bridge with the emulator, the ledger and the retry engine,
// served over in-memory pipes so that a test can run it inside a
// testing/synctest bubble (CIF timeouts, latencies and retry delays then
// pass in fake time, exactly).
type rig struct {
	t      *testing.T
	srv    *bridge.Server
	ln     *pipenet.Listener
	http   *http.Client // reaches the rig at http://127.0.0.1:8787 (a Host the bridge accepts)
	emu    *emulator.Emulator
	ledger *ledger.Ledger
	engine *retry.Engine
}

type rigOptions struct {
	timeout    time.Duration // CIF timeout; default 200 ms
	lateWindow time.Duration
	idempotent bool
	faults     *protocol.FaultProfile
	schema     string // emulator schema file content
	// backend, when set, is the bridge's backend instead of the emulator
	// itself (e.g. the Dataverse backend on the emulator's Web API face).
	backend func(t *testing.T, emu *emulator.Emulator) backend.Backend
}

func startRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 200 * time.Millisecond
	}
	var schema []byte
	if o.schema != "" {
		schema = []byte(o.schema)
	}
	emu, err := emulator.New(emulator.Config{Faults: o.faults, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	var be backend.Backend = emu
	if o.backend != nil {
		be = o.backend(t, emu)
	}
	l := ledgertest.New(t)
	h := ledger.Handler(l, zerolog.Nop())
	srv, err := bridge.New(bridge.Config{
		Backend: be, Timeout: o.timeout, LateWindow: o.lateWindow,
		Extra: map[string]http.Handler{ledger.PathList: h, ledger.PathOne: h, "/api/v1/emulator/": emu.AdminHandler()},
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := retry.New(retry.Config{Bridge: srv, Ledger: l, Keys: keys{emu}, IdempotentCreates: o.idempotent})
	if err != nil {
		t.Fatal(err)
	}
	eng.Register(srv)
	srv.Registry().MustRegister(ledger.Collectors(l)...)
	r := &rig{t: t, srv: srv, emu: emu, ledger: l, engine: eng}
	r.ln, r.http = testutil.ServePipe(t, srv.Handler())
	t.Cleanup(func() { // before ServePipe's cleanup closes the server
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		l.Close()
	})
	return r
}

// inRig runs test in a synctest bubble with a rig started with o and a
// widget connection to it.
func inRig(t *testing.T, o rigOptions, test func(t *testing.T, r *rig, c *client)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, o)
		test(t, r, r.dial())
	})
}

type keys struct{ e *emulator.Emulator }

func (k keys) PrimaryKey(entity string) (string, bool) {
	m, ok := k.e.Entity(entity)
	return m.PrimaryIDAttribute, ok
}

// records is the emulator's ground truth for one table.
func (r *rig) records(entity string) int { return r.emu.Stats().Tables[entity].Records }

func (r *rig) ops(method string) int64 { return r.emu.Stats().Operations[method] }

// settle waits until the engine tracks no create with unanswered attempts.
func (r *rig) settle(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for r.engine.Pending() > 0 {
		if time.Now().After(deadline) {
			r.t.Fatalf("%d creates still wait for late answers after %v", r.engine.Pending(), d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) entry(id string) protocol.LedgerEntry {
	r.t.Helper()
	e, err := r.ledger.Get(context.Background(), id)
	if err != nil {
		r.t.Fatalf("ledger entry %s: %v", id, err)
	}
	return e
}

// client is a raw widget connection that buffers notifications: raw (a
// client.RawConn, not client.Conn) because tests send malformed params
// (callRaw) and read every notification as it came.
type client struct {
	t  *testing.T
	ws *cifclient.RawConn

	mu      sync.Mutex
	seq     int
	waiting map[string]chan reply
	notes   []reply
	noteCh  chan struct{}
}

type reply = testutil.Answer

func (r *rig) dial() *client {
	r.t.Helper()
	return newClient(r.t, testutil.DialRaw(r.t, "ws://127.0.0.1:8787"+protocol.PathWidget, &cifclient.Options{HTTPClient: r.http, ReadLimit: 8 << 20}))
}

func newClient(t *testing.T, ws *cifclient.RawConn) *client {
	c := &client{t: t, ws: ws, waiting: map[string]chan reply{}, noteCh: make(chan struct{}, 1)}
	done := make(chan struct{})
	t.Cleanup(func() { ws.CloseNow(); <-done })
	go func() {
		defer close(done)
		for {
			b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var m reply
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			c.mu.Lock()
			if m.Method != "" {
				c.notes = append(c.notes, m)
				select {
				case c.noteCh <- struct{}{}:
				default:
				}
			} else if ch := c.waiting[string(m.ID)]; ch != nil {
				ch <- m
				delete(c.waiting, string(m.ID))
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// call sends a request and waits for its reply.
func (c *client) call(method string, params any) reply {
	c.t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.callRaw(method, raw)
}

func (c *client) callRaw(method string, params json.RawMessage) reply {
	c.t.Helper()
	c.mu.Lock()
	c.seq++
	id := json.RawMessage(strings.TrimSpace(string(mustJSON(c.seq))))
	ch := make(chan reply, 1)
	c.waiting[string(id)] = ch
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, protocol.AppendRequest(nil, id, method, params)); err != nil {
		c.t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		c.t.Fatalf("%s: no reply", method)
	}
	return reply{}
}

// ledgerNote waits for a bridge.ledger notification whose entry matches.
func (c *client) ledgerNote(d time.Duration, match func(protocol.LedgerEntry) bool) protocol.LedgerEntry {
	c.t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		for _, n := range c.notes {
			if n.Method != protocol.NotifyLedger {
				continue
			}
			var p struct{ Entry protocol.LedgerEntry }
			if json.Unmarshal(n.Params, &p) == nil && match(p.Entry) {
				c.mu.Unlock()
				return p.Entry
			}
		}
		c.mu.Unlock()
		select {
		case <-c.noteCh:
		case <-deadline:
			c.t.Fatalf("no matching bridge.ledger notification within %v", d)
		}
	}
}

func (c *client) create(params map[string]any) (protocol.XrmCreateResult, reply) {
	c.t.Helper()
	return c.createVia(protocol.MethodXrmCreateRecord, params)
}

// executeCreate sends a CRUD Create through enreach.xrm.execute.
func (c *client) executeCreate(entity string, payload map[string]any) (protocol.XrmCreateResult, reply) {
	c.t.Helper()
	return c.createVia(protocol.MethodXrmExecute, map[string]any{
		"data":     map[string]any{"etn": entity, "payload": payload},
		"metaData": map[string]any{"operationType": 2, "operationName": "Create"},
	})
}

func (c *client) createVia(method string, params map[string]any) (protocol.XrmCreateResult, reply) {
	c.t.Helper()
	r := c.call(method, params)
	var out protocol.XrmCreateResult
	if r.Error == nil {
		if err := json.Unmarshal(r.Result, &out); err != nil {
			c.t.Fatalf("result %s: %v", r.Result, err)
		}
	}
	return out, r
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func wantCode(t *testing.T, r reply, code int64) {
	t.Helper()
	if r.Error == nil || r.Error.Code != code {
		t.Fatalf("got error %+v result %s; want code %d", r.Error, r.Result, code)
	}
}

// wantExhausted requires r to be a -32005 and gives its data: the attempts
// and the ledger entry, if any.
func wantExhausted(t *testing.T, r reply) protocol.ExhaustedData {
	t.Helper()
	wantCode(t, r, protocol.CodeRetriesExhausted)
	var d protocol.ExhaustedData
	if err := json.Unmarshal(r.Error.Data, &d); err != nil {
		t.Fatalf("-32005 data %s: %v", r.Error.Data, err)
	}
	return d
}
