package bridge_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

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
