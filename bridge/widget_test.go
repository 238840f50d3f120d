package bridge_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestJSONRPCConformance checks the spec edge cases byte for byte.
func TestJSONRPCConformance(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	tests := []struct {
		name string
		send string
		want string // exact reply; "" = no reply expected
		code int64  // when want is empty and a reply is expected: its error code
		id   string // and its raw id
	}{
		{name: "parse error", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":1`,
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: the message is not valid JSON"}}`},
		{name: "not an object", send: `42`, code: protocol.CodeInvalidRequest, id: "null"},
		{name: "wrong version", send: `{"jsonrpc":"1.0","method":"cif.getmode","id":7}`, code: protocol.CodeInvalidRequest, id: "7"},
		{name: "method not a string", send: `{"jsonrpc":"2.0","method":5,"id":"m"}`, code: protocol.CodeInvalidRequest, id: `"m"`},
		{name: "id is an object", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":{}}`, code: protocol.CodeInvalidRequest, id: "null"},
		{name: "empty batch", send: `[]`, code: protocol.CodeInvalidRequest, id: "null"},
		{name: "unknown method", send: `{"jsonrpc":"2.0","method":"nope","id":3}`, code: protocol.CodeMethodNotFound, id: "3"},
		{name: "unknown cif method", send: `{"jsonrpc":"2.0","method":"cif.nope","id":4}`, code: protocol.CodeMethodNotFound, id: "4"},
		{name: "params not object", send: `{"jsonrpc":"2.0","method":"cif.createrecord","params":["contact"],"id":5}`, code: protocol.CodeInvalidParams, id: "5"},
		{name: "id -1 round-trips", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":-1}`, want: `{"jsonrpc":"2.0","id":-1,"result":1}`},
		{name: "string id round-trips", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":"x"}`, want: `{"jsonrpc":"2.0","id":"x","result":1}`},
		{name: "id beyond 2^53 round-trips", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":9007199254740993}`, want: `{"jsonrpc":"2.0","id":9007199254740993,"result":1}`},
		{name: "html in string id kept byte-exact", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":"<a&b>"}`, want: `{"jsonrpc":"2.0","id":"<a&b>","result":1}`},
		{name: "null id answered", send: `{"jsonrpc":"2.0","method":"cif.getmode","id":null}`, want: `{"jsonrpc":"2.0","id":null,"result":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.send)
			got := c.recv()
			if tt.want != "" {
				if got != tt.want {
					t.Fatalf("got  %s\nwant %s", got, tt.want)
				}
				return
			}
			var r reply
			if err := json.Unmarshal([]byte(got), &r); err != nil {
				t.Fatalf("bad reply %s", got)
			}
			wantCode(t, r, tt.code)
			if string(r.ID) != tt.id {
				t.Errorf("id = %s, want %s", r.ID, tt.id)
			}
			if !strings.Contains(got, `"jsonrpc":"2.0"`) {
				t.Errorf("reply lacks jsonrpc 2.0: %s", got)
			}
		})
	}
	// The connection survived every bad message.
	c.t = t
	okResult(t, c.call(protocol.MethodGetMode, nil), nil)
}

// Notifications, one by one or in a batch, are served and never answered.
// In a synctest bubble, synctest.Wait lets their handlers finish (they run
// concurrently), so the next message must be the answer to the next call.
func TestNotificationGetsNoReply(t *testing.T) {
	for _, tt := range []struct{ name, send, method, want string }{
		{"single", `{"jsonrpc":"2.0","method":"cif.setmode","params":{"value":0}}`, protocol.MethodGetMode, "0"},
		{"unknown method", `{"jsonrpc":"2.0","method":"nope"}`, protocol.MethodGetMode, "1"},
		{"batch of notifications", `[{"jsonrpc":"2.0","method":"cif.setwidth","params":{"value":500}},{"jsonrpc":"2.0","method":"cif.setmode","params":{"value":2}}]`,
			protocol.MethodGetWidth, "500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, ws := inBubble(t, nil)
				ws.send(tt.send)
				synctest.Wait()
				ws.send(`{"jsonrpc":"2.0","id":"next","method":"` + tt.method + `"}`)
				r := ws.recvReply()
				if string(r.ID) != `"next"` || string(r.Result) != tt.want {
					t.Fatalf("first message after the notification = %+v; want the answer %s to %s", r, tt.want, tt.method)
				}
			})
		})
	}
}

func TestBatch(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send(`[
		{"jsonrpc":"2.0","method":"cif.getmode","id":"a"},
		{"jsonrpc":"2.0","method":"cif.setwidth","params":{"value":400}},
		{"jsonrpc":"2.0","method":"nope","id":-2},
		{"foo":"bar"},
		{"jsonrpc":"2.0","method":"cif.getwidth","id":9007199254740993}
	]`)
	raw := c.recv()
	var got []reply
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("batch reply is not an array: %s", raw)
	}
	if len(got) != 4 {
		t.Fatalf("got %d answers, want 4 (the notification gets none): %s", len(got), raw)
	}
	byID := map[string]reply{}
	for _, r := range got {
		byID[string(r.ID)] = r
	}
	if string(byID[`"a"`].Result) != "1" {
		t.Errorf("getmode in batch: %s", raw)
	}
	wantCode(t, byID["-2"], protocol.CodeMethodNotFound)
	wantCode(t, byID["null"], protocol.CodeInvalidRequest)
	if !strings.Contains(raw, `"id":9007199254740993`) {
		t.Errorf("big id not byte-exact: %s", raw)
	}
}

// TestMemberNamesExact: JSON-RPC member names match exactly and once
// (issue 13 item 11); such messages are refused -32600, not executed.
func TestMemberNamesExact(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	okResult(t, c.call(protocol.MethodSetMode, map[string]any{"value": 1}), nil)
	for _, msg := range []string{
		`{"JSONRPC":"2.0","ID":1,"METHOD":"cif.setmode","PARAMS":{"value":0}}`,
		`{"jsonrpc":"2.0","id":2,"method":"cif.getmode","Method":"cif.setmode","params":{"value":0}}`,
		`{"jsonrpc":"2.0","id":3,"method":"cif.getmode","method":"cif.setmode","params":{"value":0}}`,
	} {
		c.send(msg)
		r := c.recvReply()
		wantCode(t, r, protocol.CodeInvalidRequest)
	}
	if r := c.call(protocol.MethodGetMode, nil); string(r.Result) != "1" {
		t.Fatalf("mode %s: a refused message was executed", r.Result)
	}
}

// TestCIFMethods drives every cif.* method through a real WebSocket to the
// emulator.
func TestCIFMethods(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)

	var acc protocol.CreateResult
	okResult(t, c.call(protocol.MethodCreateRecord, map[string]any{"entityName": "account", "value": map[string]any{"name": "Contoso"}}), &acc)
	// CIF's createRecord takes the data as a JSON string: accepted too.
	var con protocol.CreateResult
	okResult(t, c.call(protocol.MethodCreateRecord, map[string]any{"entityName": "contact",
		"value": `{"firstname":"Ada","lastname":"Lovelace","mobilephone":"+358401234567","parentcustomerid_account@odata.bind":"/accounts(` + acc.ID + `)"}`}), &con)
	if con.EntityType != "contact" || len(con.ID) != 36 {
		t.Fatalf("create result = %+v", con)
	}
	var rec map[string]any
	okResult(t, c.call(protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": con.ID,
		"queryParameters": "?$select=firstname,mobilephone"}), &rec)
	if rec["firstname"] != "Ada" || rec["contactid"] != con.ID {
		t.Fatalf("retrieve = %v", rec)
	}
	if _, ok := rec["lastname"]; ok {
		t.Errorf("$select ignored: %v", rec)
	}
	okResult(t, c.call(protocol.MethodUpdateRecord, map[string]any{"entityName": "contact", "entityId": con.ID, "value": map[string]any{"lastname": "King"}}), nil)
	var found map[string]map[string]any
	okResult(t, c.call(protocol.MethodSearch, map[string]any{"entityName": "contact", "queryParameters": "?$select=lastname&$filter=startswith(mobilephone,'+358') and lastname eq 'King'&$top=5"}), &found)
	if len(found) != 1 || found["0"]["lastname"] != "King" {
		t.Fatalf("search = %v", found)
	}
	okResult(t, c.call(protocol.MethodSearchAndOpenRecords, map[string]any{"entityName": "account", "queryParameters": "?$filter=contains(name,'onto')"}), &found)
	if len(found) != 1 {
		t.Fatalf("searchandopenrecords = %v", found)
	}
	var env map[string]any
	okResult(t, c.call(protocol.MethodGetEnvironment, nil), &env)
	if env["clientUrl"] == nil || env["orgUniqueName"] == nil {
		t.Errorf("getenvironment = %v", env)
	}
	var meta map[string]any
	okResult(t, c.call(protocol.MethodGetEntityMetadata, map[string]any{"entityName": "phonecall"}), &meta)
	if meta["PrimaryIdAttribute"] != "activityid" || meta["EntitySetName"] != "phonecalls" {
		t.Errorf("phonecall metadata = %v", meta)
	}
	for _, tt := range []struct{ set, get, value string }{
		{protocol.MethodSetClickToAct, protocol.MethodGetClickToAct, "false"},
		{protocol.MethodSetMode, protocol.MethodGetMode, "2"},
		{protocol.MethodSetWidth, protocol.MethodGetWidth, "480"},
	} {
		okResult(t, c.call(tt.set, map[string]json.RawMessage{"value": json.RawMessage(tt.value)}), nil)
		if r := c.call(tt.get, nil); string(r.Result) != tt.value {
			t.Errorf("%s = %s, want %s", tt.get, r.Result, tt.value)
		}
	}
	okResult(t, c.call(protocol.MethodDeleteRecord, map[string]any{"entityName": "contact", "entityId": con.ID}), nil)
	if st := tb.emu.Stats(); st.Tables["contact"].Records != 0 || st.Tables["account"].Records != 1 {
		t.Errorf("ground truth after delete: %+v", st.Tables)
	}
}

// TestDataverseErrors checks each Dataverse error reaches the widget as -32001
// with its code, status and the CIF-shaped message.
func TestDataverseErrors(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	id := "6f1d2a3b-0000-4000-8000-000000000001"
	okResult(t, c.call(protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{"activityid": id, "subject": "call"}}), nil)
	missing := "6f1d2a3b-0000-4000-8000-0000000000ff"
	tests := []struct {
		name       string
		method     string
		params     map[string]any
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"duplicate client-supplied key", protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{"activityid": id}},
			412, "0x80040237", "A record with matching key values already exists."},
		{"retrieve missing", protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": missing},
			404, "0x80040217", "contact With Id = " + missing + " Does Not Exist"},
		{"update missing is update-only", protocol.MethodUpdateRecord, map[string]any{"entityName": "contact", "entityId": missing, "value": map[string]any{"firstname": "x"}},
			404, "0x80040217", "Does Not Exist"},
		{"unknown entity", protocol.MethodRetrieveRecord, map[string]any{"entityName": "nosuch", "entityId": missing},
			404, "0x8006088a", "nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.call(tt.method, tt.params)
			wantCode(t, r, protocol.CodeBackend)
			var d protocol.BackendErrorData
			if err := json.Unmarshal(r.Error.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.HTTPStatus != tt.wantStatus || d.DataverseCode != tt.wantCode || !strings.Contains(d.ErrorMsg, tt.wantMsg) || d.Value.ErrorMsg != d.ErrorMsg {
				t.Errorf("data = %+v, want %d %s %q", d, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// TestBadParams checks validation happens before any backend attempt.
func TestBadParams(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	tests := []struct {
		name   string
		method string
		params string
		want   string
	}{
		{"blank entity", protocol.MethodCreateRecord, `{"entityName":"","value":{}}`, `"entityName" is blank`},
		{"missing value", protocol.MethodCreateRecord, `{"entityName":"contact"}`, `"value" is missing`},
		{"value not object", protocol.MethodCreateRecord, `{"entityName":"contact","value":5}`, `"value" must be a JSON object`},
		{"string not holding object", protocol.MethodCreateRecord, `{"entityName":"contact","value":"nope"}`, `does not hold a JSON object`},
		{"wrong type", protocol.MethodRetrieveRecord, `{"entityName":"contact","entityId":7}`, `"entityId" must be a JSON string`},
		{"unknown field", protocol.MethodRetrieveRecord, `{"entityName":"contact","entityId":"x","bogus":1}`, `unknown field "bogus"`},
		{"missing id", protocol.MethodDeleteRecord, `{"entityName":"contact"}`, `"entityId" is blank`},
		{"bad profile", protocol.MethodHello, `{"profile":"cif3"}`, `unknown profile "cif3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.call(tt.method, json.RawMessage(tt.params))
			wantCode(t, r, protocol.CodeInvalidParams)
			if !strings.Contains(r.Error.Message, tt.want) {
				t.Errorf("message %q lacks %q", r.Error.Message, tt.want)
			}
		})
	}
	c.t = t
	if ops := tb.emu.Stats().Operations; ops["createrecord"]+ops["retrieverecord"]+ops["deleterecord"] != 0 {
		t.Errorf("bad params reached the backend: %v", ops)
	}
}

// onReader is the emulator as a backend.Prompt that notes, for each
// attempt Begin runs, whether it runs on the widget connection's reader,
// and that can be made slow (slowBegin) to break its promise.
type onReader struct {
	*emulator.Emulator
	mu        sync.Mutex
	reader    map[string]bool // method → its last Begin ran on the reader
	slowBegin time.Duration
}

func (b *onReader) Begin(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	b.mu.Lock()
	b.reader[a.Method] = strings.Contains(string(buf), "rpcconn.(*Conn).readLoop")
	slow := b.slowBegin
	b.mu.Unlock()
	time.Sleep(slow)
	return b.Emulator.Begin(ctx, a)
}

func (b *onReader) ranOnReader(method string) (ran, onReader bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	onReader, ran = b.reader[method]
	return ran, onReader
}

// A CIF call the emulator answers at once runs on the reader; one it may
// not (a search, or any call while a fault rule may delay it) runs on a
// goroutine of its own and keeps the exact CIF timeout.
func TestPromptCallsRunOnTheReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := newEmulator(t, nil)
		be := &onReader{Emulator: emu, reader: map[string]bool{}}
		_, ws, _ := serveInBubble(t, bridge.Config{Backend: be})

		ws.send(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Ada"}}}`)
		if r := ws.recvReply(); r.Error != nil || len(r.Result) == 0 {
			t.Fatalf("create: %+v", r)
		}
		if ran, reader := be.ranOnReader(protocol.MethodCreateRecord); !ran || !reader {
			t.Errorf("create ran %v, on the reader %v; want on the reader", ran, reader)
		}
		ws.send(`{"jsonrpc":"2.0","id":2,"method":"cif.search","params":{"entityName":"contact","queryParameters":"?$select=firstname"}}`)
		if r := ws.recvReply(); r.Error != nil {
			t.Fatalf("search: %+v", r)
		}
		if ran, reader := be.ranOnReader(protocol.MethodSearch); !ran || reader {
			t.Errorf("search ran %v, on the reader %v; want on a goroutine of its own", ran, reader)
		}

		// A latency rule from now on: creates leave the reader, and the
		// CIF timeout is exact again (the default profile's 10 s).
		if err := emu.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{{Method: "createrecord", LatencyMs: 12_000, Count: 1}}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ws.send(`{"jsonrpc":"2.0","id":3,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Late"}}}`)
		r := ws.recvReply()
		if r.Error == nil || r.Error.Code != protocol.CodeTimeout || time.Since(start) != 10*time.Second {
			t.Fatalf("delayed create: %+v after %v, want -32000 after exactly 10s", r, time.Since(start))
		}
		if ran, reader := be.ranOnReader(protocol.MethodCreateRecord); !ran || reader {
			t.Errorf("delayed create on the reader %v; want on a goroutine of its own", reader)
		}
		if late := ws.recvReply(); late.Method != protocol.NotifyLate || time.Since(start) != 12*time.Second {
			t.Fatalf("late answer %s after %v", late.Method, time.Since(start))
		}
	})
}

// A prompt backend that breaks its promise and answers after the CIF
// deadline still gets no answer passed off as in time: the widget gets the
// -32000 (when the reader is free again) and the answer comes as
// bridge.late, reported on a goroutine of its own as for any late answer,
// so the two may come in either order.
func TestPromptAnswerPastTheDeadlineIsLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &onReader{Emulator: newEmulator(t, nil), reader: map[string]bool{}, slowBegin: 12 * time.Second}
		_, ws, _ := serveInBubble(t, bridge.Config{Backend: be, Timeout: 10 * time.Second})
		start := time.Now()
		ws.send(`{"jsonrpc":"2.0","id":7,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Slow"}}}`)
		var r, late reply
		for range 2 {
			if m := ws.recvReply(); m.Method == protocol.NotifyLate {
				late = m
			} else {
				r = m
			}
		}
		if r.Error == nil || r.Error.Code != protocol.CodeTimeout || string(r.ID) != "7" {
			t.Fatalf("reply = %+v, want -32000", r)
		}
		if got := time.Since(start); got != 12*time.Second {
			t.Errorf("answered after %v, want when the backend answered (12s)", got)
		}
		var lp protocol.LateParams
		if err := json.Unmarshal(late.Params, &lp); err != nil || lp.Outcome != protocol.OutcomeSuccess || lp.LateByMs != 2000 || string(lp.RequestID) != "7" {
			t.Fatalf("bridge.late = %s %s", late.Method, late.Params)
		}
		// The call went unnamed until it was late: the -32000 and the
		// bridge.late name the same attempt.
		var td protocol.TimeoutData
		if err := json.Unmarshal(r.Error.Data, &td); err != nil || td.AttemptID == "" || td.AttemptID != lp.AttemptID {
			t.Fatalf("-32000 data %s, bridge.late attempt %q; want one name in both", r.Error.Data, lp.AttemptID)
		}
	})
}
