package emulator_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateRecord(t *testing.T) {
	const fixed = "44444444-4444-4444-8444-444444444444"
	tests := []struct {
		name    string
		params  any
		wantID  string // "" = any new v4 GUID
		wantErr *wantErr
	}{
		{name: "new guid", params: map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "Grace"}}},
		{name: "value as JSON string", params: map[string]any{"entityName": "contact", "value": `{"firstname":"Grace"}`}},
		{name: "client key", params: map[string]any{"entityName": "contact", "value": map[string]any{"contactid": fixed}}, wantID: fixed},
		{name: "client key upper case normalised", params: map[string]any{"entityName": "account", "value": map[string]any{"accountid": "55555555-5555-4555-8555-55555555555A"}}, wantID: "55555555-5555-4555-8555-55555555555a"},
		{name: "existing key 412", params: map[string]any{"entityName": "contact", "value": map[string]any{"contactid": adaID}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 412, code: emulator.CodeDuplicateKey, msg: "A record with matching key values already exists."}},
		{name: "unknown entity", params: map[string]any{"entityName": "nosuch", "value": map[string]any{}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeSegmentNotFound, msg: "Resource not found for the segment 'nosuch'."}},
		{name: "unknown column", params: map[string]any{"entityName": "contact", "value": map[string]any{"shoesize": 42}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax, msg: "The property 'shoesize' does not exist"}},
		{name: "bind to missing account", params: map[string]any{"entityName": "contact", "value": map[string]any{"parentcustomerid_account@odata.bind": "/accounts(66666666-6666-4666-8666-666666666666)"}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeRecordNotFound, msg: "account With Id = 66666666-6666-4666-8666-666666666666 Does Not Exist"}},
		{name: "bind to wrong type", params: map[string]any{"entityName": "account", "value": map[string]any{"primarycontactid@odata.bind": "/accounts(" + engineID + ")"}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax}},
		{name: "blank entity", params: map[string]any{"entityName": "", "value": map[string]any{}}, wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
		{name: "missing value", params: map[string]any{"entityName": "contact"}, wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
		{name: "unknown param", params: map[string]any{"entityName": "contact", "value": map[string]any{}, "x": 1}, wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
		{name: "bad key", params: map[string]any{"entityName": "contact", "value": map[string]any{"contactid": "nope"}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSeeded(t)
			res, err := call(e, protocol.MethodCreateRecord, tt.params)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != nil {
				return
			}
			var got protocol.CreateResult
			if err := json.Unmarshal(res, &got); err != nil {
				t.Fatal(err)
			}
			if tt.wantID != "" && got.ID != tt.wantID || tt.wantID == "" && !guidRE.MatchString(got.ID) {
				t.Fatalf("id = %q, want %q", got.ID, tt.wantID)
			}
			if got.EntityType == "" {
				t.Fatalf("entityType missing in %s", res)
			}
		})
	}
}

func TestCreateThenRetrieve(t *testing.T) {
	e := newSeeded(t)
	id := callMap(t, e, protocol.MethodCreateRecord, map[string]any{"entityName": "account", "value": map[string]any{
		"name": "Contoso", "numberofemployees": 7, "primarycontactid@odata.bind": "/contacts(" + adaID + ")"}})["id"].(string)

	rec := callMap(t, e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "account", "entityId": id,
		"queryParameters": "?$select=name,numberofemployees,_primarycontactid_value&$expand=primarycontactid($select=fullname,mobilephone)"})
	want := map[string]any{
		"accountid": id, "name": "Contoso", "numberofemployees": float64(7), "_primarycontactid_value": adaID,
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if rec["@odata.etag"] == nil || rec["telephone1"] != nil || len(rec) != 6 {
		t.Errorf("unexpected columns: %v", rec)
	}
	pc, _ := rec["primarycontactid"].(map[string]any)
	if pc["fullname"] != "Ada Lovelace" || pc["mobilephone"] != "+358401234567" || pc["contactid"] != adaID {
		t.Errorf("expanded = %v", pc)
	}
}

func TestRetrieveRecord(t *testing.T) {
	tests := []struct {
		name    string
		params  map[string]any
		want    map[string]any // columns that must have these values
		absent  []string
		wantErr *wantErr
	}{
		{name: "all columns", params: map[string]any{"entityName": "contact", "entityId": adaID},
			want: map[string]any{"fullname": "Ada Lovelace", "firstname": "Ada", "jobtitle": nil, "_parentcustomerid_value": engineID}},
		{name: "select", params: map[string]any{"entityName": "contact", "entityId": adaID, "queryParameters": "?$select=firstname"},
			want: map[string]any{"firstname": "Ada", "contactid": adaID}, absent: []string{"lastname"}},
		{name: "upper-case id", params: map[string]any{"entityName": "contact", "entityId": "{11111111-1111-4111-8111-111111111111}"},
			want: map[string]any{"contactid": adaID}},
		{name: "expand polymorphic", params: map[string]any{"entityName": "contact", "entityId": adaID, "queryParameters": "$select=fullname&$expand=parentcustomerid_account($select=name)"},
			want: map[string]any{"fullname": "Ada Lovelace"}},
		{name: "missing", params: map[string]any{"entityName": "contact", "entityId": "99999999-9999-4999-8999-999999999999"},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeRecordNotFound, msg: "contact With Id = 99999999-9999-4999-8999-999999999999 Does Not Exist"}},
		{name: "unknown select", params: map[string]any{"entityName": "contact", "entityId": adaID, "queryParameters": "?$select=shoesize"},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeUnknownProperty, msg: "Could not find a property named 'shoesize' on type 'Microsoft.Dynamics.CRM.contact'"}},
		{name: "unknown expand", params: map[string]any{"entityName": "contact", "entityId": adaID, "queryParameters": "?$expand=nope"},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeUnknownProperty}},
		{name: "unknown option", params: map[string]any{"entityName": "contact", "entityId": adaID, "queryParameters": "?$skiptoken=1"},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax}},
		{name: "not a guid", params: map[string]any{"entityName": "contact", "entityId": "abc"}, wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
		{name: "blank id", params: map[string]any{"entityName": "contact", "entityId": " "}, wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
		{name: "unknown entity", params: map[string]any{"entityName": "Contact", "entityId": adaID},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeSegmentNotFound}},
	}
	e := newSeeded(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, ok := callWant(t, e, protocol.MethodRetrieveRecord, tt.params, tt.wantErr)
			if !ok {
				return
			}
			for k, v := range tt.want {
				if got, ok := rec[k]; !ok || got != v {
					t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := rec[k]; ok {
					t.Errorf("%s present, want absent", k)
				}
			}
		})
	}
	res, _ := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": adaID, "queryParameters": "$expand=parentcustomerid_account($select=name)"})
	if got := decodeMap(t, res)["parentcustomerid_account"].(map[string]any)["name"]; got != "Analytical Engines Ltd" {
		t.Fatalf("expanded name = %v", got)
	}
}

func TestUpdateDelete(t *testing.T) {
	e := newSeeded(t)
	tests := []struct {
		name    string
		method  string
		params  map[string]any
		wantErr *wantErr
	}{
		{name: "update", method: protocol.MethodUpdateRecord, params: map[string]any{"entityName": "contact", "entityId": adaID, "value": map[string]any{"lastname": "King"}}},
		{name: "update missing is not an upsert", method: protocol.MethodUpdateRecord, params: map[string]any{"entityName": "contact", "entityId": "77777777-7777-4777-8777-777777777777", "value": map[string]any{"lastname": "X"}},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeRecordNotFound}},
		{name: "update unbind", method: protocol.MethodUpdateRecord, params: map[string]any{"entityName": "contact", "entityId": adaID, "value": map[string]any{"parentcustomerid_account@odata.bind": nil}}},
		{name: "delete", method: protocol.MethodDeleteRecord, params: map[string]any{"entityName": "contact", "entityId": alanID}},
		{name: "delete again", method: protocol.MethodDeleteRecord, params: map[string]any{"entityName": "contact", "entityId": alanID},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeRecordNotFound, msg: "contact With Id = " + alanID + " Does Not Exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := callWant(t, e, tt.method, tt.params, tt.wantErr)
			if !ok {
				return
			}
			if got["entityType"] != "contact" || got["id"] != tt.params["entityId"] {
				t.Fatalf("result = %v", got)
			}
		})
	}
	res, _ := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": adaID})
	rec := decodeMap(t, res)
	if rec["fullname"] != "Ada King" || rec["_parentcustomerid_value"] != nil || rec["createdon"] == rec["@odata.etag"] {
		t.Fatalf("after update: %v", rec)
	}
	if st := e.Stats(); st.Tables["contact"].Records != 1 || st.Operations["updaterecord"] != 3 || st.Operations["deleterecord"] != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSearch(t *testing.T) {
	e := newSeeded(t)
	for _, v := range []map[string]any{
		{"firstname": "Grace", "lastname": "Hopper", "mobilephone": "+1555", "emailaddress1": "grace@example.com"},
		{"firstname": "Ada", "lastname": "Byron", "mobilephone": "+358400000000"},
	} {
		if _, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": v}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		method  string
		qs      string
		want    []string // fullnames in order
		wantErr *wantErr
	}{
		{name: "all ordered", qs: "?$select=fullname&$orderby=fullname", want: []string{"Ada Byron", "Ada Lovelace", "Alan Turing", "Grace Hopper"}},
		{name: "eq phone with plus (a CIF query keeps it, as the dataverse backend sends it as %2B)", qs: "?$select=fullname&$filter=mobilephone eq '+358401234567'", want: []string{"Ada Lovelace"}},
		{name: "$search is CIF's search-page text", qs: "?$select=fullname&$filter=firstname eq 'Ada'&$search=Ada&$orderby=lastname", want: []string{"Ada Byron", "Ada Lovelace"}},
		{name: "url-encoded", qs: "?$select=fullname&$filter=mobilephone%20eq%20'%2B358401234567'", want: []string{"Ada Lovelace"}},
		{name: "eq case-insensitive", qs: "$select=fullname&$filter=firstname eq 'ADA'&$orderby=lastname desc", want: []string{"Ada Lovelace", "Ada Byron"}},
		{name: "contains or startswith", qs: "$select=fullname&$filter=contains(lastname,'ur') or startswith(firstname,'Gr')&$orderby=fullname", want: []string{"Alan Turing", "Grace Hopper"}},
		{name: "and parens not", qs: "$select=fullname&$filter=(firstname eq 'Ada' and not (lastname eq 'Byron'))", want: []string{"Ada Lovelace"}},
		{name: "null", qs: "$select=fullname&$filter=emailaddress1 eq null", want: []string{"Ada Byron"}},
		{name: "ne null top", qs: "$select=fullname&$filter=emailaddress1 ne null&$orderby=fullname&$top=2", want: []string{"Ada Lovelace", "Alan Turing"}},
		{name: "guid literal", qs: "$select=fullname&$filter=contactid eq " + alanID, want: []string{"Alan Turing"}},
		{name: "lookup value", qs: "$select=fullname&$filter=_parentcustomerid_value eq " + engineID, want: []string{"Ada Lovelace"}},
		{name: "searchandopenrecords", method: protocol.MethodSearchAndOpenRecords, qs: "$select=fullname&$filter=lastname eq 'Hopper'", want: []string{"Grace Hopper"}},
		{name: "no match", qs: "$filter=lastname eq 'Nobody'", want: []string{}},
		{name: "syntax error", qs: "$filter=lastname eq", wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax, msg: "Syntax error at position"}},
		{name: "unknown column", qs: "$filter=shoesize eq 4", wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeUnknownProperty}},
		{name: "bad top", qs: "$top=-1", wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.method
			if m == "" {
				m = protocol.MethodSearch
			}
			res, err := call(e, m, map[string]any{"entityName": "contact", "queryParameters": tt.qs, "searchOnly": m == protocol.MethodSearch})
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != nil {
				return
			}
			var got map[string]map[string]any
			if err := json.Unmarshal(res, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records %s, want %v", len(got), res, tt.want)
			}
			for i, name := range tt.want {
				if r := got[itoa(i)]; r["fullname"] != name {
					t.Errorf("[%d] = %v, want %s", i, r["fullname"], name)
				}
			}
		})
	}
	res, _ := call(e, protocol.MethodSearch, map[string]any{"entityName": "contact", "queryParameters": "$select=fullname&$orderby=fullname&$top=1"})
	if string(res[:5]) != `{"0":` {
		t.Fatalf("search result shape = %s", res)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestEnvironmentMetadataMisc(t *testing.T) {
	e := newSeeded(t)
	env := callMap(t, e, protocol.MethodGetEnvironment, nil)
	for _, k := range []string{"clientUrl", "appUrl", "orgLcid", "orgUniqueName", "orgId", "userId", "userLcid", "username", "userRoles", "crmVersion", "isDirty", "msdyn_customparams"} {
		if _, ok := env[k]; !ok {
			t.Errorf("environment lacks %s", k)
		}
	}
	if env["orgUniqueName"] != "contoso" || env["isDirty"] != false {
		t.Errorf("environment = %v", env)
	}

	md := callMap(t, e, protocol.MethodGetEntityMetadata, map[string]any{"entityName": "phonecall", "attributes": []string{"subject", "regardingobjectid"}})
	if md["LogicalName"] != "phonecall" || md["EntitySetName"] != "phonecalls" || md["PrimaryIdAttribute"] != "activityid" || md["PrimaryNameAttribute"] != "subject" {
		t.Errorf("metadata = %v", md)
	}
	if got, want := string(testutil.MustJSON(t, md["Attributes"])), `[{"AttributeType":"String","EntityLogicalName":"phonecall","LogicalName":"subject"},`+
		`{"AttributeType":"Lookup","EntityLogicalName":"phonecall","LogicalName":"regardingobjectid","Targets":["contact","account","incident","lead"]}]`; got != want {
		t.Errorf("attributes = %s, want %s", got, want)
	}
	_, err := call(e, protocol.MethodGetEntityMetadata, map[string]any{"entityName": "nosuch"})
	checkErr(t, err, &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeSegmentNotFound})

	for _, tt := range []struct{ method, want string }{
		{protocol.MethodOpenForm, `{"savedEntityReference":[]}`},
		{protocol.MethodRefreshForm, `{}`},
		{protocol.MethodRenderSearchPage, `null`},
	} {
		res, err := call(e, tt.method, map[string]any{})
		if err != nil || string(res) != tt.want {
			t.Errorf("%s = %s, %v; want %s", tt.method, res, err, tt.want)
		}
	}
	_, err = call(e, "cif.nosuch", nil)
	checkErr(t, err, &wantErr{rpc: protocol.CodeMethodNotFound})

	if m, ok := e.Entity("new_call"); !ok || m.EntitySetName != "new_calls" || m.Lookups["new_contactid"][0] != "contact" {
		t.Errorf("Entity(new_call) = %+v, %v", m, ok)
	}
	if m, _ := e.Entity("contact"); !containsString(m.Attributes, "new_customerno") || !containsString(m.Attributes, "mobilephone") {
		t.Errorf("schema did not extend contact: %v", m.Attributes)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPanelState(t *testing.T) {
	e := newSeeded(t)
	steps := []struct {
		name    string
		method  string
		value   string // "" = no params
		want    string
		wantErr *wantErr
	}{
		{name: "default clicktoact", method: protocol.MethodGetClickToAct, want: "true"},
		{name: "set clicktoact", method: protocol.MethodSetClickToAct, value: "false", want: "null"},
		{name: "get clicktoact", method: protocol.MethodGetClickToAct, want: "false"},
		{name: "bad clicktoact", method: protocol.MethodSetClickToAct, value: `"yes"`, wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
		{name: "default mode", method: protocol.MethodGetMode, want: "1"},
		{name: "set mode", method: protocol.MethodSetMode, value: "2", want: "null"},
		{name: "get mode", method: protocol.MethodGetMode, want: "2"},
		{name: "bad mode", method: protocol.MethodSetMode, value: "3", wantErr: &wantErr{rpc: protocol.CodeInvalidParams, msg: "The setMode paramter value must be 0, 1 or 2."}},
		{name: "default width", method: protocol.MethodGetWidth, want: "320"},
		{name: "set width", method: protocol.MethodSetWidth, value: "500", want: "null"},
		{name: "get width", method: protocol.MethodGetWidth, want: "500"},
		{name: "negative width", method: protocol.MethodSetWidth, value: "-1", wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			var params any = map[string]any{}
			if tt.value != "" {
				params = `{"value":` + tt.value + `}`
			}
			res, err := call(e, tt.method, params)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == nil && string(res) != tt.want {
				t.Fatalf("got %s, want %s", res, tt.want)
			}
		})
	}
	// Another session still has the defaults.
	res, _ := e.Execute(t.Context(), backendCall("s2", protocol.MethodGetMode, `{}`))
	if string(res) != "1" {
		t.Fatalf("session s2 mode = %s", res)
	}
}

func TestXrmExecute(t *testing.T) {
	e := newSeeded(t)
	exec := func(opType int, name string, data any) (json.RawMessage, error) {
		return call(e, protocol.BackendExecute, map[string]any{"data": data, "metaData": map[string]any{"operationType": opType, "operationName": name}})
	}
	res, err := exec(1, "WhoAmI", nil)
	checkErr(t, err, nil)
	who := decodeMap(t, res)
	if !guidRE.MatchString(who["UserId"].(string)) && who["UserId"] == "" || who["BusinessUnitId"] == nil || who["OrganizationId"] == nil {
		t.Fatalf("WhoAmI = %s", res)
	}
	res2, _ := exec(1, "WhoAmI", nil)
	if string(res) != string(res2) {
		t.Fatalf("WhoAmI not stable: %s vs %s", res, res2)
	}
	tests := []struct {
		name    string
		opType  int
		op      string
		data    any
		want    string // exact JSON, or "" to skip
		wantErr *wantErr
	}{
		{name: "declared action", opType: 0, op: "new_Ping", want: `{"pong": true}`},
		{name: "declared function", opType: 1, op: "new_GetQueueLength", want: `{"length": 3}`},
		{name: "action without response", opType: 0, op: "new_Fire", want: `null`},
		{name: "wrong kind", opType: 1, op: "new_Ping", wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax}},
		{name: "unknown", opType: 0, op: "new_Nope", wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeSegmentNotFound, msg: "Resource not found for the segment 'new_Nope'."}},
		{name: "crud retrieve", opType: 2, op: "Retrieve", data: map[string]any{"entityReference": map[string]any{"entityType": "contact", "id": adaID}, "columns": []string{"fullname"}}},
		{name: "crud retrieve missing", opType: 2, op: "Retrieve", data: map[string]any{"etn": "contact", "id": "88888888-8888-4888-8888-888888888888"},
			wantErr: &wantErr{rpc: protocol.CodeBackend, status: 404, code: emulator.CodeRecordNotFound}},
		{name: "crud create", opType: 2, op: "Create", data: map[string]any{"etn": "new_call", "payload": map[string]any{"new_name": "c1", "new_contactid@odata.bind": "/contacts(" + adaID + ")"}}},
		{name: "crud update", opType: 2, op: "Update", data: map[string]any{"etn": "contact", "id": adaID, "payload": map[string]any{"jobtitle": "Countess"}},
			want: `{"entityType":"contact","id":"` + adaID + `"}`},
		{name: "crud delete", opType: 2, op: "Delete", data: map[string]any{"etn": "contact", "id": alanID}, want: `{"entityType":"contact","id":"` + alanID + `"}`},
		{name: "crud bad op", opType: 2, op: "Merge", data: map[string]any{"etn": "contact"}, wantErr: &wantErr{rpc: protocol.CodeBackend, status: 400, code: emulator.CodeQuerySyntax}},
		{name: "bad operation type", opType: 7, op: "X", wantErr: &wantErr{rpc: protocol.CodeInvalidParams}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := exec(tt.opType, tt.op, tt.data)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == nil && tt.want != "" && string(res) != tt.want {
				t.Fatalf("got %s, want %s", res, tt.want)
			}
		})
	}
	if st := e.Stats(); st.Tables["new_call"].Records != 1 || st.Tables["contact"].Records != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if got := e.Stats().Operations["execute"]; got != 12 { // 2 WhoAmI + 10 that passed validation
		t.Fatalf("execute ops = %d", got)
	}
}

func TestDuplicateRuleCIF(t *testing.T) {
	e := newSeeded(t)
	// contact rule is onCIF:false → never fires through CIF.
	_, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"emailaddress1": "ADA@example.com"}})
	checkErr(t, err, nil)
	// account rule is onCIF:true.
	_, err = call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "account", "value": map[string]any{"accountnumber": "ae-1"}})
	checkErr(t, err, &wantErr{rpc: protocol.CodeBackend, status: http.StatusInternalServerError, code: emulator.CodeDuplicateRule, msg: "duplicate of the current record"})
	// Updating the record itself is not a duplicate of itself.
	_, err = call(e, protocol.MethodUpdateRecord, map[string]any{"entityName": "account", "entityId": engineID, "value": map[string]any{"accountnumber": "AE-1", "name": "x"}})
	checkErr(t, err, nil)
	if n := e.Stats().Tables["account"].Records; n != 1 {
		t.Fatalf("accounts = %d", n)
	}
}
