package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

const api = "/api/data/v9.2/"

func TestWebAPIBoundOperations(t *testing.T) {
	e := newSeeded(t)
	srv := newWebServer(t, e)
	const missing = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantCode           string
		wantMsg            string
		wantBody           map[string]any
	}{
		{"bound action on a record", "POST", "accounts(" + engineID + ")/Microsoft.Dynamics.CRM.new_Ping", 200, "", "", map[string]any{"pong": true}},
		{"bound action no content", "POST", "contacts(" + adaID + ")/Microsoft.Dynamics.CRM.new_Fire", 204, "", "", nil},
		{"bound to the collection", "POST", "contacts/Microsoft.Dynamics.CRM.new_Ping", 200, "", "", map[string]any{"pong": true}},
		{"bound function with parameters", "GET", "contacts(" + adaID + ")/Microsoft.Dynamics.CRM.new_GetQueueLength(Queue=@q)?@q='a/b'", 200, "", "", map[string]any{"length": float64(3)}},
		{"unknown action", "POST", "accounts(" + engineID + ")/Microsoft.Dynamics.CRM.new_Nope", 404, emulator.CodeSegmentNotFound,
			"Resource not found for the segment 'Microsoft.Dynamics.CRM.new_Nope'.", nil},
		{"WhoAmI is not bound", "GET", "accounts(" + engineID + ")/Microsoft.Dynamics.CRM.WhoAmI()", 404, emulator.CodeSegmentNotFound, "WhoAmI", nil},
		{"missing record", "POST", "accounts(" + missing + ")/Microsoft.Dynamics.CRM.new_Ping", 404, emulator.CodeRecordNotFound,
			"account With Id = " + missing + " Does Not Exist", nil},
		{"unknown entity set", "POST", "Accounts(" + engineID + ")/Microsoft.Dynamics.CRM.new_Ping", 404, emulator.CodeSegmentNotFound, "'Accounts'", nil},
		{"unqualified name is a property", "POST", "accounts(" + engineID + ")/new_Ping", 400, emulator.CodeUnknownProperty,
			"Could not find a property named 'new_Ping' on type 'Microsoft.Dynamics.CRM.account'.", nil},
		{"property of a collection", "GET", "accounts/name", 400, emulator.CodeUnknownProperty, "'name'", nil},
		{"key not a guid", "POST", "accounts(AE-1)/Microsoft.Dynamics.CRM.new_Ping", 400, emulator.CodeQuerySyntax, "not a GUID", nil},
		{"action via GET", "GET", "accounts(" + engineID + ")/Microsoft.Dynamics.CRM.new_Ping", 405, emulator.CodeQuerySyntax, "not allowed", nil},
		{"function via POST", "POST", "accounts(" + engineID + ")/Microsoft.Dynamics.CRM.new_GetQueueLength()", 405, emulator.CodeQuerySyntax, "not allowed", nil},
		{"three segments", "POST", "accounts(" + engineID + ")/Microsoft.Dynamics.CRM.new_Ping/x", 404, emulator.CodeSegmentNotFound, "'x'", nil},
		{"unbound qualified", "POST", "Microsoft.Dynamics.CRM.new_Ping", 200, "", "", map[string]any{"pong": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.method == "POST" {
				body = "{}"
			}
			r := do(t, srv, tt.method, api+tt.path, body)
			if r.status != tt.wantStatus || errCode(r) != tt.wantCode {
				t.Fatalf("%d %v, want %d code %q", r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			if tt.wantMsg != "" {
				if msg := errMsg(r); !strings.Contains(msg, tt.wantMsg) {
					t.Fatalf("message %q, want it to contain %q", msg, tt.wantMsg)
				}
			}
			for k, v := range tt.wantBody {
				if r.body[k] != v {
					t.Fatalf("body %v, want %s=%v", r.body, k, v)
				}
			}
		})
	}
	if n := e.Stats().Operations["execute"]; n != 5 {
		t.Fatalf("%d executes counted, want 5 (the successful calls)", n)
	}
}

func TestWebAPIEntityDefinitions(t *testing.T) {
	e := newSeeded(t)
	srv := newWebServer(t, e)
	r := do(t, srv, "GET", api+"EntityDefinitions(LogicalName='contact')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"+
		"&$expand=Attributes($select=LogicalName,AttributeType)", "")
	if r.status != 200 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	wantKeys := []string{"@odata.context", "Attributes", "EntitySetName", "LogicalName", "MetadataId", "PrimaryIdAttribute", "PrimaryNameAttribute"}
	if got := testutil.SortedKeys(r.body); !slices.Equal(got, wantKeys) {
		t.Fatalf("entity keys %v, want %v", got, wantKeys)
	}
	if ctx := r.body["@odata.context"].(string); !strings.HasSuffix(ctx,
		"$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,Attributes(LogicalName,AttributeType))/$entity") {
		t.Fatalf("@odata.context %s", ctx)
	}
	types := map[string]string{}
	var names []string
	for _, a := range r.body["Attributes"].([]any) {
		m := a.(map[string]any)
		if got := testutil.SortedKeys(m); !slices.Equal(got, []string{"@odata.type", "AttributeType", "LogicalName", "MetadataId"}) {
			t.Fatalf("attribute keys %v", got)
		}
		types[m["LogicalName"].(string)] = m["AttributeType"].(string)
		names = append(names, m["LogicalName"].(string))
		if m["LogicalName"] == "parentcustomerid" && m["@odata.type"] != "#Microsoft.Dynamics.CRM.LookupAttributeMetadata" {
			t.Fatalf("lookup @odata.type %v", m["@odata.type"])
		}
	}
	for n, want := range map[string]string{"contactid": "Uniqueidentifier", "fullname": "String", "birthdate": "DateTime",
		"parentcustomerid": "Customer", "statecode": "State", "new_customerno": "String"} {
		if types[n] != want {
			t.Errorf("AttributeType of %s = %q, want %q", n, types[n], want)
		}
	}
	// The same attributes, in the same order and with the same types, as
	// cif.getEntityMetadata lists.
	res, err := call(e, protocol.MethodGetEntityMetadata, map[string]any{"entityName": "contact"})
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Attributes []struct{ LogicalName, AttributeType string }
	}
	if err := json.Unmarshal(res, &md); err != nil {
		t.Fatal(err)
	}
	var cifNames []string
	for _, a := range md.Attributes {
		cifNames = append(cifNames, a.LogicalName)
		if a.AttributeType != types[a.LogicalName] {
			t.Errorf("cif.getEntityMetadata: AttributeType of %s = %q, the face says %q", a.LogicalName, a.AttributeType, types[a.LogicalName])
		}
	}
	if !slices.Equal(names, cifNames) {
		t.Fatalf("face attributes %v\nCIF attributes %v", names, cifNames)
	}

	r = do(t, srv, "GET", api+"EntityDefinitions(LogicalName='phonecall')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=LogicalName,Targets", "")
	vals, _ := r.body["value"].([]any)
	if r.status != 200 || len(vals) != 1 {
		t.Fatalf("lookup cast %d %v", r.status, r.body)
	}
	if l := vals[0].(map[string]any); l["LogicalName"] != "regardingobjectid" || len(l["Targets"].([]any)) != 4 {
		t.Fatalf("lookup %v", l)
	}
	r = do(t, srv, "GET", api+"EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName", "")
	if vals, _ := r.body["value"].([]any); r.status != 200 || len(vals) < 10 {
		t.Fatalf("attributes collection %d %v", r.status, r.body)
	}
	r = do(t, srv, "GET", api+"EntityDefinitions?$select=LogicalName", "")
	if vals, _ := r.body["value"].([]any); r.status != 200 || len(vals) != len(e.Entities()) || len(vals[0].(map[string]any)) != 2 {
		t.Fatalf("definitions %d %v", r.status, r.body)
	}

	errs := []struct {
		name, path string
		status     int
		code, msg  string
	}{
		{"unknown select", "EntityDefinitions(LogicalName='contact')?$select=Nope", 400, emulator.CodeUnknownProperty,
			"Could not find a property named 'Nope' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."},
		{"Targets on base type", "EntityDefinitions(LogicalName='contact')?$expand=Attributes($select=LogicalName,Targets)", 400, emulator.CodeUnknownProperty,
			"'Targets' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'"},
		{"filter in expand", "EntityDefinitions(LogicalName='contact')?$expand=Attributes($filter=IsPrimaryId%20eq%20true)", 400, emulator.CodeQuerySyntax, "only $select"},
		{"expand other", "EntityDefinitions(LogicalName='contact')?$expand=Keys", 400, emulator.CodeUnknownProperty, "'Keys'"},
		{"unknown option", "EntityDefinitions(LogicalName='contact')?$top=1", 400, emulator.CodeQuerySyntax, "$top"},
		{"unknown entity", "EntityDefinitions(LogicalName='nope')", 404, emulator.CodeRecordNotFound, "LogicalName 'nope'"},
		{"bad key", "EntityDefinitions(Name='contact')", 400, emulator.CodeQuerySyntax, "LogicalName='<name>'"},
		{"bad cast", "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata", 404, emulator.CodeSegmentNotFound, "PicklistAttributeMetadata"},
		{"bad nav", "EntityDefinitions(LogicalName='contact')/Keys", 404, emulator.CodeSegmentNotFound, "Keys"},
	}
	for _, tt := range errs {
		r := do(t, srv, "GET", api+tt.path, "")
		msg := errMsg(r)
		if r.status != tt.status || errCode(r) != tt.code || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %d %v, want %d %s %q", tt.name, r.status, r.body, tt.status, tt.code, tt.msg)
		}
	}
}

func TestWebAPIPaging(t *testing.T) {
	e := newSeeded(t)
	srv := newWebServer(t, e)
	for i := range 5 { // 7 contacts with the 2 seeded
		if r := do(t, srv, "POST", api+"contacts", fmt.Sprintf(`{"firstname":"P%d","lastname":"Page"}`, i)); r.status != 204 {
			t.Fatalf("create %d", r.status)
		}
	}
	// pages follows nextLinks from path and returns each page's size.
	pages := func(path string, prefer string) (sizes []int, ids []string) {
		t.Helper()
		for next := srv.URL + path; next != ""; {
			u, err := url.Parse(next)
			if err != nil || u.Host != strings.TrimPrefix(srv.URL, "http://") {
				t.Fatalf("nextLink %q does not point at the face", next)
			}
			r := do(t, srv, "GET", u.RequestURI(), "", "Prefer", prefer)
			if r.status != 200 {
				t.Fatalf("GET %s: %d %v", u.RequestURI(), r.status, r.body)
			}
			vals := r.body["value"].([]any)
			sizes = append(sizes, len(vals))
			for _, v := range vals {
				ids = append(ids, v.(map[string]any)["contactid"].(string))
			}
			next, _ = r.body["@odata.nextLink"].(string)
			if next != "" && r.header.Get("Preference-Applied") == "" {
				t.Fatal("a paged answer without Preference-Applied")
			}
		}
		return sizes, ids
	}
	_, all := pages(api+"contacts?$select=fullname&$orderby=firstname", "")
	if len(all) != 7 {
		t.Fatalf("unpaged: %d records", len(all))
	}
	tests := []struct {
		name, query, prefer string
		wantSizes           []int
	}{
		{"3 per page", "$select=fullname&$orderby=firstname", "odata.maxpagesize=3", []int{3, 3, 1}},
		{"with other preferences", "$select=fullname&$orderby=firstname", `return=representation, odata.maxpagesize=2`, []int{2, 2, 2, 1}},
		{"exact multiple", "$select=fullname&$orderby=firstname", "odata.maxpagesize=7", []int{7}},
		{"top cuts the pages", "$select=fullname&$orderby=firstname&$top=5", "odata.maxpagesize=2", []int{2, 2, 1}},
		{"larger than 5000 is ignored", "$select=fullname&$orderby=firstname", "odata.maxpagesize=9000", []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sizes, ids := pages(api+"contacts?"+tt.query, tt.prefer)
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Fatalf("page sizes %v, want %v", sizes, tt.wantSizes)
			}
			if want := all[:len(ids)]; !slices.Equal(ids, want) {
				t.Fatalf("paged ids %v, want %v (the unpaged order)", ids, want)
			}
		})
	}
	r := do(t, srv, "GET", api+"contacts?$select=fullname", "", "Prefer", "odata.maxpagesize=3")
	link := r.body["@odata.nextLink"].(string)
	if !strings.HasPrefix(link, srv.URL+api+"contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber%3D%222%22") {
		t.Fatalf("nextLink %s", link)
	}
	errs := []struct {
		name, method, path, prefer, msg string
	}{
		{"bad maxpagesize", "GET", "contacts", "odata.maxpagesize=0", "positive integer"},
		{"garbled skiptoken", "GET", "contacts?$skiptoken=abc", "", "follow the @odata.nextLink"},
		{"skiptoken on a record", "GET", "contacts(" + adaID + ")?$skiptoken=%3Ccookie%20pagenumber=%222%22%20offset=%223%22%20/%3E", "", "only to GET of a collection"},
	}
	for _, tt := range errs {
		r := do(t, srv, tt.method, api+tt.path, "", "Prefer", tt.prefer)
		msg := errMsg(r)
		if r.status != http.StatusBadRequest || errCode(r) != emulator.CodeQuerySyntax || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %d %v, want 400 %q", tt.name, r.status, r.body, tt.msg)
		}
	}
}

func TestWebAPISystemTables(t *testing.T) {
	e := newEmulator(t, emulator.Config{Schema: []byte(`{"environment":{"userLcid":1035,"crmVersion":"9.2.24011.00192","username":"agent@contoso.com"}}`)})
	srv := newWebServer(t, e)
	var env map[string]any
	res, err := call(e, protocol.MethodGetEnvironment, map[string]any{})
	if err != nil || json.Unmarshal(res, &env) != nil {
		t.Fatalf("getenvironment %s %v", res, err)
	}
	userID, orgID := env["userId"].(string), env["orgId"].(string)
	// CIF's getEnvironment types: userLcid a number, crmVersion a string,
	// userRoles the user's security role GUIDs.
	roleIDs, _ := env["userRoles"].([]any)
	if env["userLcid"] != float64(1035) || env["crmVersion"] != "9.2.24011.00192" || len(roleIDs) != 1 {
		t.Fatalf("environment %v", env)
	}
	if s, _ := roleIDs[0].(string); len(s) != 36 {
		t.Fatalf("userRoles %v, want GUID strings", roleIDs)
	}

	if r := do(t, srv, "GET", api+"RetrieveVersion()", ""); r.status != 200 || r.body["Version"] != "9.2.24011.00192" {
		t.Fatalf("RetrieveVersion %d %v", r.status, r.body)
	}
	r := do(t, srv, "GET", api+"systemusers("+userID+")?$select=domainname&$expand=systemuserroles_association($select=roleid)", "")
	roles, _ := r.body["systemuserroles_association"].([]any)
	if r.status != 200 || r.body["domainname"] != "agent@contoso.com" || len(roles) != 1 || r.body["fullname"] != nil {
		t.Fatalf("systemuser %d %v", r.status, r.body)
	}
	if got := roles[0].(map[string]any); len(got) != 1 || got["roleid"] != env["userRoles"].([]any)[0] {
		t.Fatalf("role %v, want the environment's userRoles %v", got, env["userRoles"])
	}
	if r := do(t, srv, "GET", api+"usersettingscollection("+userID+")?$select=uilanguageid", ""); r.status != 200 || r.body["uilanguageid"] != float64(1035) {
		t.Fatalf("usersettings %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", api+"organizations("+orgID+")?$select=languagecode", ""); r.status != 200 || r.body["languagecode"] != float64(1033) {
		t.Fatalf("organization %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", api+"organizations?$select=languagecode", ""); r.status != 200 || len(r.body["value"].([]any)) != 1 {
		t.Fatalf("organizations %d %v", r.status, r.body)
	}
	errs := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "systemusers(" + adaID + ")", 404, emulator.CodeRecordNotFound},
		{"GET", "systemusers(" + userID + ")?$select=nope", 400, emulator.CodeUnknownProperty},
		{"GET", "systemusers(" + userID + ")?$expand=teammembership_association", 400, emulator.CodeUnknownProperty},
		{"GET", "usersettingscollection(" + userID + ")?$filter=x", 400, emulator.CodeQuerySyntax},
		{"PATCH", "usersettingscollection(" + userID + ")", 405, emulator.CodeQuerySyntax},
		{"POST", "RetrieveVersion", 405, emulator.CodeQuerySyntax},
	}
	for _, tt := range errs {
		if r := do(t, srv, tt.method, api+tt.path, ""); r.status != tt.status || errCode(r) != tt.code {
			t.Errorf("%s %s: %d %v, want %d %s", tt.method, tt.path, r.status, r.body, tt.status, tt.code)
		}
	}
}
