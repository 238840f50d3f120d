package emulator_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestWebAPIRefusesWhatItDoesNotImplement: every query option, header and
// path the emulator does not implement is a 400 in Dataverse's error shape
// naming what is missing, never a 200 that ignores it.
func TestWebAPIRefusesWhatItDoesNotImplement(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	tests := []struct {
		name, method, path string
		headers            []string
		want               string
		body               string
	}{
		{"fetchXml operator", "GET", "/api/data/v9.2/contacts?fetchXml=" + url.QueryEscape(`<fetch><entity name="contact"><filter><condition attribute="contactid" operator="under" value="x"/></filter></entity></fetch>`), nil, "FetchXML operator 'under'", ""},
		{"$apply transformation", "GET", "/api/data/v9.2/contacts?$apply=topcount(2,firstname)", nil, "$apply transformation 'topcount'", ""},
		{"$search on the Web API", "GET", "/api/data/v9.2/contacts?$search=Ada", nil, "'$search'", ""},
		{"$batch", "POST", "/api/data/v9.2/$batch", nil, "$batch", ""},
		{"alternate key", "GET", "/api/data/v9.2/accounts(accountnumber='AE-1')", nil, "alternate keys", ""},
		{"collection-valued $expand of an unknown relationship", "GET", "/api/data/v9.2/accounts?$expand=new_account_calls", nil, "new_account_calls", ""},
		{"nested $expand options", "GET", "/api/data/v9.2/contacts?$expand=parentcustomerid_account($filter=name%20eq%20'x')", nil, "only $select and $expand inside the $expand of a lookup", ""},
		{"deep insert", "POST", "/api/data/v9.2/accounts", nil, "deep insert", `{"name":"A","primarycontactid":{"firstname":"B"}}`},
		{"$filter on one EntityDefinition", "GET", "/api/data/v9.2/EntityDefinitions(LogicalName='contact')?$filter=LogicalName%20eq%20'contact'", nil, "$filter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, tt.body, tt.headers...)
			code := "0x80060888"
			if strings.HasPrefix(tt.name, "collection-valued") {
				code = "0x0" // the emulator knows no one-to-many relationships: an unknown property, as Dataverse names one
			}
			if r.status != http.StatusBadRequest || errCode(r) != code || !strings.Contains(errMsg(r), tt.want) {
				t.Fatalf("%s %s: %d %v, want 400 0x80060888 naming %q", tt.method, tt.path, r.status, r.body, tt.want)
			}
		})
	}
}

// TestWebAPICount: $count=true adds @odata.count over the whole result (not
// the page), /$count answers the number as text.
func TestWebAPICount(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	r := do(t, srv, "GET", "/api/data/v9.2/contacts?$select=fullname&$count=true", "", "Prefer", "odata.maxpagesize=1")
	if r.status != 200 || r.body["@odata.count"] != float64(2) || len(r.body["value"].([]any)) != 1 {
		t.Fatalf("$count=true: %d %v", r.status, r.body)
	}
	r = do(t, srv, "GET", "/api/data/v9.2/contacts?$select=fullname&$count=false", "")
	if _, ok := r.body["@odata.count"]; r.status != 200 || ok {
		t.Fatalf("$count=false: %d %v", r.status, r.body)
	}
	for path, want := range map[string]string{
		"/api/data/v9.2/contacts/$count":                                    "2",
		"/api/data/v9.2/contacts/$count?$filter=firstname%20eq%20'Ada'":     "1",
		"/api/data/v9.2/accounts/$count?$filter=name%20eq%20'Nobody%20Ltd'": "0",
	} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != want || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET %s: %d %q %s, want %s", path, res.StatusCode, b, res.Header.Get("Content-Type"), want)
		}
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/contacts/$count?$top=1", ""); r.status != 400 {
		t.Fatalf("/$count with $top: %d", r.status)
	}
}

// TestWebAPIConditionalDelete: a DELETE whose If-Match names an older
// version is 412 0x80060882 and keeps the record; the current etag or *
// deletes it.
func TestWebAPIConditionalDelete(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	const path = "/api/data/v9.2/contacts(11111111-1111-4111-8111-111111111111)"
	old := do(t, srv, "GET", path+"?$select=firstname", "").body["@odata.etag"].(string)
	if r := do(t, srv, "PATCH", path, `{"jobtitle":"Countess"}`); r.status != 204 {
		t.Fatalf("patch: %d", r.status)
	}
	if r := do(t, srv, "DELETE", path, "", "If-Match", old); r.status != 412 || errCode(r) != "0x80060882" {
		t.Fatalf("stale If-Match: %d %v", r.status, r.body)
	}
	cur := do(t, srv, "GET", path+"?$select=firstname", "")
	if cur.status != 200 {
		t.Fatalf("the record was deleted by a stale If-Match: %d", cur.status)
	}
	if r := do(t, srv, "DELETE", path, "", "If-Match", cur.body["@odata.etag"].(string)); r.status != 204 {
		t.Fatalf("current If-Match: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "DELETE", path, "", "If-Match", "*"); r.status != 404 {
		t.Fatalf("deleted: %d", r.status)
	}
}

// TestWebAPIPlusIsASpace: an unencoded + in $filter is a space, as on
// Dataverse, so a phone filter must encode it (%2B).
func TestWebAPIPlusIsASpace(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	raw := do(t, srv, "GET", "/api/data/v9.2/contacts?$select=fullname&$filter=mobilephone%20eq%20'+358401234567'", "")
	enc := do(t, srv, "GET", "/api/data/v9.2/contacts?$select=fullname&$filter=mobilephone%20eq%20'%2B358401234567'", "")
	if len(raw.body["value"].([]any)) != 0 || len(enc.body["value"].([]any)) != 1 {
		t.Fatalf("raw + found %v, %%2B found %v", raw.body["value"], enc.body["value"])
	}
}

// TestDefaultColumns: a created record has Dataverse's defaults — statecode
// 0, statuscode 1, the emulator's user as owner, creator and modifier,
// createdon, modifiedon and a versionnumber that is its etag's — through
// the Web API and through cif.createrecord; the documented "statecode eq 0"
// filter finds it, and _ownerid_value is a filterable column.
func TestDefaultColumns(t *testing.T) {
	e := newSeeded(t)
	srv := newWebServer(t, e)
	who := do(t, srv, "GET", "/api/data/v9.2/WhoAmI", "").body["UserId"].(string)
	r := do(t, srv, "POST", "/api/data/v9.2/accounts?$select=statecode,statuscode,_ownerid_value,_createdby_value,_modifiedby_value,createdon,modifiedon,versionnumber",
		`{"name":"Defaults Ltd"}`, "Prefer", "return=representation")
	if r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	b := r.body
	if b["statecode"] != float64(0) || b["statuscode"] != float64(1) || b["_ownerid_value"] != who || b["_createdby_value"] != who ||
		b["_modifiedby_value"] != who || b["createdon"] == nil || b["modifiedon"] == nil {
		t.Fatalf("defaults %v (user %s)", b, who)
	}
	if etag := b["@odata.etag"].(string); etag != `W/"`+jsonNumber(b["versionnumber"])+`"` {
		t.Fatalf("versionnumber %v, etag %s", b["versionnumber"], etag)
	}
	// given values win over the defaults
	r = do(t, srv, "POST", "/api/data/v9.2/accounts?$select=statecode,statuscode", `{"name":"Closed Ltd","statecode":1,"statuscode":2}`, "Prefer", "return=representation")
	if r.body["statecode"] != float64(1) || r.body["statuscode"] != float64(2) {
		t.Fatalf("given state: %v", r.body)
	}
	// the documented filter
	r = do(t, srv, "GET", "/api/data/v9.2/accounts?$select=name&$filter=statecode%20eq%200%20and%20_ownerid_value%20eq%20"+who+"&$orderby=name", "")
	names := []string{}
	for _, v := range r.body["value"].([]any) {
		names = append(names, v.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "Analytical Engines Ltd,Defaults Ltd" {
		t.Fatalf("statecode eq 0: %v (%d %v)", names, r.status, r.body)
	}
	// through the CIF face
	res, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{"subject": "defaults"}})
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(res, &created)
	if created.ID == "" {
		var s string
		_ = json.Unmarshal(res, &s)
		_ = json.Unmarshal([]byte(s), &created)
	}
	res, err = call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "phonecall", "entityId": created.ID, "queryParameters": "?$select=statecode,statuscode,_ownerid_value"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res), `"statecode":0`) || !strings.Contains(string(res), `"statuscode":1`) || !strings.Contains(string(res), who) {
		t.Fatalf("cif retrieve: %s", res)
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTypeValidation: written values are checked against the columns' types
// with Dataverse's codes; a column without a known type (the schema file's
// own) takes any primitive.
func TestTypeValidation(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	long := strings.Repeat("x", 51)
	tests := []struct {
		name, set, body string
		status          int
		code, msg       string
	}{
		{"integer as text", "accounts", `{"name":"A","numberofemployees":"lots"}`, 400, "0x80048d19", "Cannot convert the literal 'lots' to the expected type 'Edm.Int32'."},
		{"integer with a fraction", "accounts", `{"name":"A","numberofemployees":1.5}`, 400, "0x80048d19", "'Edm.Int32'"},
		{"integer out of range", "accounts", `{"name":"A","numberofemployees":3000000000}`, 400, "0x80048d19", "'Edm.Int32'"},
		{"money as text", "accounts", `{"name":"A","revenue":"much"}`, 400, "0x80048d19", "'Edm.Decimal'"},
		{"boolean as number", "phonecalls", `{"subject":"s","directioncode":1}`, 400, "0x80048d19", "'Edm.Boolean'"},
		{"datetime malformed", "contacts", `{"lastname":"L","birthdate":"yesterday"}`, 400, "0x80048d19", "'Edm.DateTimeOffset'"},
		{"string as number", "contacts", `{"lastname":42}`, 400, "0x80048d19", "'Edm.String'"},
		{"string too long", "contacts", `{"lastname":"` + long + `"}`, 400, "0x80044331", "The length of the 'lastname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'."},
		{"option out of range", "incidents", `{"title":"t","prioritycode":99}`, 400, "0x8004431a", "The value 99 of 'prioritycode' on record of type 'incident' is outside the valid range. Accepted Values: 1,2,3"},
		{"statecode out of range", "accounts", `{"name":"A","statecode":7}`, 400, "0x8004431a", "Accepted Values: 0,1"},
		{"unknown attribute", "contacts", `{"lastname":"L","shoesize":44}`, 400, "0x80060888", "The property 'shoesize' does not exist on type 'Microsoft.Dynamics.CRM.contact'"},
		{"valid values", "accounts", `{"name":"A","numberofemployees":12,"revenue":1000.5,"statecode":0,"description":null}`, 204, "", ""},
		{"valid date and datetime", "contacts", `{"lastname":"L","birthdate":"1815-12-10"}`, 204, "", ""},
		{"50 characters fit", "contacts", `{"lastname":"` + long[1:] + `"}`, 204, "", ""},
		{"schema attribute takes any primitive", "contacts", `{"lastname":"L","new_customerno":7}`, 204, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, "POST", "/api/data/v9.2/"+tt.set, tt.body)
			if r.status != tt.status || tt.code != "" && (errCode(r) != tt.code || !strings.Contains(errMsg(r), tt.msg)) {
				t.Fatalf("POST %s %s: %d %v, want %d %s %q", tt.set, tt.body, r.status, r.body, tt.status, tt.code, tt.msg)
			}
		})
	}
	// PATCH is checked the same way
	if r := do(t, srv, "PATCH", "/api/data/v9.2/accounts(22222222-2222-4222-8222-222222222222)", `{"numberofemployees":"lots"}`); r.status != 400 || errCode(r) != "0x80048d19" {
		t.Fatalf("PATCH: %d %v", r.status, r.body)
	}
}

// TestTypeValidationCIF: the same checks reach a CIF createrecord as a
// -32001 backend error carrying the Dataverse code.
func TestTypeValidationCIF(t *testing.T) {
	e := newSeeded(t)
	_, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "account", "value": map[string]any{"name": "A", "numberofemployees": "lots"}})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeBackend || !strings.Contains(string(pe.Data), "0x80048d19") {
		t.Fatalf("got %v", err)
	}
}

// TestWebAPIPropertyAndRef: single-property GET/PUT/DELETE and single-valued
// $ref associate/disassociate.
func TestWebAPIPropertyAndRef(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	const ada = "/api/data/v9.2/contacts(11111111-1111-4111-8111-111111111111)"
	if r := do(t, srv, "GET", ada+"/firstname", ""); r.status != 200 || r.body["value"] != "Ada" {
		t.Fatalf("GET property: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "PUT", ada+"/jobtitle", `{"value":"Countess"}`); r.status != 204 {
		t.Fatalf("PUT property: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", ada+"/jobtitle", ""); r.body["value"] != "Countess" {
		t.Fatalf("after PUT: %v", r.body)
	}
	if r := do(t, srv, "PUT", ada+"/lastname", `{"value":42}`); r.status != 400 || errCode(r) != "0x80048d19" {
		t.Fatalf("PUT a number into text: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "PUT", ada+"/jobtitle", `{"nope":1}`); r.status != 400 {
		t.Fatalf("PUT without value: %d", r.status)
	}
	if r := do(t, srv, "DELETE", ada+"/jobtitle", ""); r.status != 204 {
		t.Fatalf("DELETE property: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", ada+"/jobtitle", ""); r.status != 204 {
		t.Fatalf("GET a null property: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/contacts(dddddddd-dddd-4ddd-8ddd-dddddddddddd)/firstname", ""); r.status != 404 || errCode(r) != "0x80040217" {
		t.Fatalf("missing record: %d %v", r.status, r.body)
	}
	// $ref: disassociate, then associate again
	if r := do(t, srv, "DELETE", ada+"/parentcustomerid_account/$ref", ""); r.status != 204 {
		t.Fatalf("disassociate: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", ada+"?$select=_parentcustomerid_value", ""); r.body["_parentcustomerid_value"] != nil {
		t.Fatalf("after disassociate: %v", r.body)
	}
	if r := do(t, srv, "PUT", ada+"/parentcustomerid_account/$ref", `{"@odata.id":"`+srv.URL+`/api/data/v9.2/accounts(22222222-2222-4222-8222-222222222222)"}`); r.status != 204 {
		t.Fatalf("associate: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", ada+"?$select=_parentcustomerid_value", ""); r.body["_parentcustomerid_value"] != "22222222-2222-4222-8222-222222222222" {
		t.Fatalf("after associate: %v", r.body)
	}
	if r := do(t, srv, "PUT", ada+"/parentcustomerid_account/$ref", `{"@odata.id":"accounts(99999999-9999-4999-8999-999999999999)"}`); r.status != 404 {
		t.Fatalf("associate a missing record: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "PUT", ada+"/contact_customer_contacts/$ref", `{"@odata.id":"contacts(33333333-3333-4333-8333-333333333333)"}`); r.status != 405 || errCode(r) != "0x80060888" {
		t.Fatalf("PUT on a collection-valued $ref: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "POST", ada+"/new_contact_calls/$ref", `{"@odata.id":"contacts(33333333-3333-4333-8333-333333333333)"}`); r.status != 400 || errCode(r) != "0x0" {
		t.Fatalf("$ref on an unknown relationship: %d %v", r.status, r.body)
	}
}

// TestWebAPICollectionRef: $ref associates and disassociates over the
// one-to-many relationships $expand knows (accounts(id)/contact_customer_accounts),
// by setting or clearing the lookup of the record on the many side, in
// both of Dataverse's DELETE forms.
func TestWebAPICollectionRef(t *testing.T) {
	srv := newWebServer(t, newFetchEmulator(t))
	const acc, grace, alan = "/api/data/v9.2/accounts(22222222-2222-4222-8222-222222222222)", "55555555-5555-4555-8555-555555555555", "33333333-3333-4333-8333-333333333333"
	members := func() []string {
		r := do(t, srv, "GET", acc+"?$select=name&$expand=contact_customer_accounts($select=fullname;$orderby=fullname)", "")
		var out []string
		for _, c := range r.body["contact_customer_accounts"].([]any) {
			out = append(out, c.(map[string]any)["fullname"].(string))
		}
		return out
	}
	if got := members(); !slices.Equal(got, []string{"Ada Lovelace"}) {
		t.Fatalf("before: %v", got)
	}
	if r := do(t, srv, "POST", acc+"/contact_customer_accounts/$ref", `{"@odata.id":"`+srv.URL+`/api/data/v9.2/contacts(`+grace+`)"}`); r.status != 204 {
		t.Fatalf("associate: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "POST", acc+"/contact_customer_accounts/$ref", `{"@odata.id":"contacts(`+alan+`)"}`); r.status != 204 {
		t.Fatalf("associate Alan (moved from his account): %d %v", r.status, r.body)
	}
	if got := members(); !slices.Equal(got, []string{"Ada Lovelace", "Alan Turing", "Grace Hopper"}) {
		t.Fatalf("after associate: %v", got)
	}
	if r := do(t, srv, "DELETE", acc+"/contact_customer_accounts("+grace+")/$ref", ""); r.status != 204 {
		t.Fatalf("disassociate by key: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "DELETE", acc+"/contact_customer_accounts/$ref?$id="+srv.URL+"/api/data/v9.2/contacts("+alan+")", ""); r.status != 204 {
		t.Fatalf("disassociate by $id: %d %v", r.status, r.body)
	}
	if got := members(); !slices.Equal(got, []string{"Ada Lovelace"}) {
		t.Fatalf("after disassociate: %v", got)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/contacts("+grace+")?$select=_parentcustomerid_value", ""); r.body["_parentcustomerid_value"] != nil {
		t.Fatalf("Grace still points somewhere: %v", r.body)
	}
	for _, tt := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", acc + "/contact_customer_accounts/$ref", `{"@odata.id":"accounts(44444444-4444-4444-8444-444444444444)"}`, 400, "0x80060888"},
		{"POST", acc + "/contact_customer_accounts/$ref", `{"@odata.id":"contacts(99999999-9999-4999-8999-999999999999)"}`, 404, "0x80040217"},
		{"POST", "/api/data/v9.2/accounts(99999999-9999-4999-8999-999999999999)/contact_customer_accounts/$ref", `{"@odata.id":"contacts(` + grace + `)"}`, 404, "0x80040217"},
		{"POST", acc + "/contact_customer_accounts/$ref", `{}`, 400, "0x80060888"},
		{"DELETE", acc + "/contact_customer_accounts/$ref", "", 400, "0x80060888"},
	} {
		if r := do(t, srv, tt.method, tt.path, tt.body); r.status != tt.status || errCode(r) != tt.code {
			t.Errorf("%s %s %s: %d %v, want %d %s", tt.method, tt.path, tt.body, r.status, r.body, tt.status, tt.code)
		}
	}
}

// TestWebAPIAlternateKeys: keys declared in the schema address records in
// the path; PATCH on a key is an upsert; an undeclared key is refused with
// Dataverse's message.
func TestWebAPIAlternateKeys(t *testing.T) {
	e := newEmulator(t, emulator.Config{
		Schema: []byte(`{"alternateKeys":{"account":[["accountnumber"]],"contact":[["firstname","emailaddress1"]]}}`),
		Seed:   readFile(t, "testdata/seed-example.json"),
	})
	srv := newWebServer(t, e)
	const api = "/api/data/v9.2/"
	if r := do(t, srv, "GET", api+"accounts(accountnumber='AE-1')?$select=name", ""); r.status != 200 || r.body["name"] != "Analytical Engines Ltd" {
		t.Fatalf("GET by key: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", api+"contacts(emailaddress1='ada@example.com',firstname='ada')?$select=lastname", ""); r.status != 200 || r.body["lastname"] != "Lovelace" {
		t.Fatalf("GET by two-column key (any order, case-insensitive): %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", api+"accounts(accountnumber='ZZ-9')", ""); r.status != 404 || errCode(r) != "0x80040217" ||
		errMsg(r) != "A record with the specified key values does not exist in account entity" {
		t.Fatalf("missing key: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", api+"accounts(name='Analytical Engines Ltd')", ""); r.status != 400 || !strings.Contains(errMsg(r), "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.account'") {
		t.Fatalf("undeclared key: %d %v", r.status, r.body)
	}
	// upsert: the first PATCH creates, the second updates the same record
	if r := do(t, srv, "PATCH", api+"accounts(accountnumber='NEW-1')", `{"name":"Upserted"}`); r.status != 204 {
		t.Fatalf("upsert create: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "PATCH", api+"accounts(accountnumber='NEW-1')", `{"name":"Upserted again"}`); r.status != 204 {
		t.Fatalf("upsert update: %d %v", r.status, r.body)
	}
	r := do(t, srv, "GET", api+"accounts?$select=name&$filter=accountnumber%20eq%20'NEW-1'", "")
	if vals := r.body["value"].([]any); len(vals) != 1 || vals[0].(map[string]any)["name"] != "Upserted again" {
		t.Fatalf("after two upserts: %v", r.body)
	}
	if r := do(t, srv, "PATCH", api+"accounts(accountnumber='NEW-2')", `{"name":"x"}`, "If-Match", "*"); r.status != 404 {
		t.Fatalf("If-Match * on a missing key: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "DELETE", api+"accounts(accountnumber='NEW-1')", ""); r.status != 204 {
		t.Fatalf("DELETE by key: %d %v", r.status, r.body)
	}
	if _, err := emulator.New(emulator.Config{Schema: []byte(`{"alternateKeys":{"account":[["nope"]]}}`)}); err == nil || !strings.Contains(err.Error(), `"nope" is not a column of account`) {
		t.Fatalf("bad key declaration: %v", err)
	}
}

// TestWebAPIMetadata: $metadata is a CSDL document of the emulator's
// entities: keys, typed columns, lookups as navigation properties, entity

// TestWebAPIContextURL: @odata.context names the $select list and each
// $expand's, as in the Dataverse docs' examples
// ("$metadata#accounts(name,primarycontactid(fullname),Account_Tasks(subject))",
// "$metadata#contacts(fullname)"; "/$entity" for one record), and the set
// alone without $select.
func TestWebAPIContextURL(t *testing.T) {
	srv := newWebServer(t, newFetchEmulator(t))
	const acc = "accounts(22222222-2222-4222-8222-222222222222)"
	meta := srv.URL + "/api/data/v9.2/$metadata#"
	for _, tt := range []struct {
		method, path, body, want string
	}{
		{"GET", "contacts?$select=fullname", "", "contacts(fullname)"},
		{"GET", "contacts", "", "contacts"},
		{"GET", acc + "?$select=name&$expand=primarycontactid($select=fullname),Account_Tasks($select=subject)", "", "accounts(name,primarycontactid(fullname),Account_Tasks(subject))/$entity"},
		{"GET", "contacts?$select=fullname&$expand=parentcustomerid_account($select=name;$expand=primarycontactid($select=fullname))", "", "contacts(fullname,parentcustomerid_account(name,primarycontactid(fullname)))"},
		{"GET", "contacts?$select=fullname&$expand=parentcustomerid_account", "", "contacts(fullname,parentcustomerid_account())"},
		{"GET", acc, "", "accounts/$entity"},
		{"POST", "accounts?$select=name", `{"name":"Ctx"}`, "accounts(name)/$entity"},
	} {
		var r webResp
		if tt.method == "POST" {
			r = do(t, srv, "POST", "/api/data/v9.2/"+tt.path, tt.body, "Prefer", "return=representation")
		} else {
			r = do(t, srv, "GET", "/api/data/v9.2/"+tt.path, "", "Prefer", "odata.maxpagesize=10")
		}
		if r.body["@odata.context"] != meta+tt.want {
			t.Errorf("%s %s: @odata.context %v, want %s", tt.method, tt.path, r.body["@odata.context"], meta+tt.want)
		}
	}
}

// TestWebAPIServiceDocument: GET /api/data/v9.2/ is the OData service
// document listing the entity sets, as on an org, and every set it lists
// answers.
func TestWebAPIServiceDocument(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	r := do(t, srv, "GET", "/api/data/v9.2/", "")
	if r.status != 200 || r.body["@odata.context"] != srv.URL+"/api/data/v9.2/$metadata" {
		t.Fatalf("service document: %d %v", r.status, r.body)
	}
	var names []string
	for _, v := range r.body["value"].([]any) {
		m := v.(map[string]any)
		if m["kind"] != "EntitySet" || m["url"] != m["name"] {
			t.Errorf("entry %v", m)
		}
		names = append(names, m["name"].(string))
	}
	for _, want := range []string{"accounts", "contacts", "phonecalls", "EntityDefinitions", "systemusers"} {
		if !slices.Contains(names, want) {
			t.Errorf("%q not listed in %v", want, names)
		}
	}
	for _, n := range names {
		if r := do(t, srv, "GET", "/api/data/v9.2/"+n, ""); r.status != 200 {
			t.Errorf("listed %s answers %d %v", n, r.status, r.body)
		}
	}
	if r := do(t, srv, "POST", "/api/data/v9.2/", "{}"); r.status != 405 {
		t.Errorf("POST to the service document: %d %v", r.status, r.body)
	}
}

// sets and the schema's operations.
func TestWebAPIMetadata(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	res, err := srv.Client().Get(srv.URL + "/api/data/v9.2/$metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var doc struct {
		Services struct {
			Schema struct {
				Namespace string `xml:"Namespace,attr"`
				Types     []struct {
					Name string `xml:"Name,attr"`
					Key  struct {
						Ref struct {
							Name string `xml:"Name,attr"`
						} `xml:"PropertyRef"`
					} `xml:"Key"`
					Props []struct {
						Name string `xml:"Name,attr"`
						Type string `xml:"Type,attr"`
					} `xml:"Property"`
					Navs []struct {
						Name string `xml:"Name,attr"`
						Type string `xml:"Type,attr"`
					} `xml:"NavigationProperty"`
				} `xml:"EntityType"`
				Actions []struct {
					Name string `xml:"Name,attr"`
				} `xml:"Action"`
				Functions []struct {
					Name string `xml:"Name,attr"`
				} `xml:"Function"`
				Container struct {
					Sets []struct {
						Name       string `xml:"Name,attr"`
						EntityType string `xml:"EntityType,attr"`
					} `xml:"EntitySet"`
				} `xml:"EntityContainer"`
			} `xml:"Schema"`
		} `xml:"DataServices"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b)
	}
	s := doc.Services.Schema
	found := map[string]string{}
	for _, ty := range s.Types {
		for _, p := range ty.Props {
			found[ty.Name+"."+p.Name] = p.Type
		}
		for _, n := range ty.Navs {
			found[ty.Name+"/"+n.Name] = n.Type
		}
		if ty.Name == "phonecall" && ty.Key.Ref.Name != "activityid" {
			t.Fatalf("phonecall key %q", ty.Key.Ref.Name)
		}
	}
	for k, want := range map[string]string{
		"account.numberofemployees": "Edm.Int32", "account.revenue": "Edm.Decimal", "contact.birthdate": "Edm.DateTimeOffset",
		"contact._parentcustomerid_value": "Edm.Guid", "contact/parentcustomerid_account": "mscrm.account",
		"account/primarycontactid": "mscrm.contact", "new_call.new_name": "Edm.String", "phonecall.directioncode": "Edm.Boolean",
		"phonecall/regardingobjectid_contact_phonecall": "mscrm.contact", "phonecall/regardingobjectid_contact": "",
		"account/contact_customer_accounts": "Collection(mscrm.contact)", "contact/Contact_Phonecalls": "Collection(mscrm.phonecall)",
	} {
		if found[k] != want {
			t.Errorf("%s: %q, want %q", k, found[k], want)
		}
	}
	sets := map[string]string{}
	for _, set := range s.Container.Sets {
		sets[set.Name] = set.EntityType
	}
	if s.Namespace != "Microsoft.Dynamics.CRM" || sets["contacts"] != "Microsoft.Dynamics.CRM.contact" || sets["new_calls"] != "Microsoft.Dynamics.CRM.new_call" {
		t.Fatalf("namespace %q, sets %v", s.Namespace, sets)
	}
	if len(s.Actions) == 0 || len(s.Functions) < 2 {
		t.Fatalf("operations: actions %v functions %v", s.Actions, s.Functions)
	}
}

// TestWebAPIAnnotations: Prefer: odata.include-annotations adds formatted
// values and lookup annotations, only those asked for, and says so in
// Preference-Applied.
func TestWebAPIAnnotations(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	const ada = "/api/data/v9.2/contacts(11111111-1111-4111-8111-111111111111)?$select=fullname,statecode,_parentcustomerid_value,_ownerid_value,createdon"
	r := do(t, srv, "GET", ada, "", "Prefer", `odata.include-annotations="*"`)
	b := r.body
	for k, want := range map[string]any{
		"_parentcustomerid_value@OData.Community.Display.V1.FormattedValue":           "Analytical Engines Ltd",
		"_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":            "account",
		"_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "parentcustomerid_account",
		"_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":                     "systemuser",
		"statecode@OData.Community.Display.V1.FormattedValue":                         "Active",
		"createdon@OData.Community.Display.V1.FormattedValue":                         "6/15/2026 12:00 PM",
	} {
		if b[k] != want {
			t.Errorf("%s = %v, want %v", k, b[k], want)
		}
	}
	if _, ok := b["fullname@OData.Community.Display.V1.FormattedValue"]; ok || r.header.Get("Preference-Applied") != `odata.include-annotations="*"` {
		t.Fatalf("text formatted value or header: %v %v", b, r.header)
	}
	r = do(t, srv, "GET", ada, "", "Prefer", `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`)
	if _, ok := r.body["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]; ok || r.body["statecode@OData.Community.Display.V1.FormattedValue"] != "Active" {
		t.Fatalf("formatted values only: %v", r.body)
	}
	r = do(t, srv, "GET", ada, "", "Prefer", `odata.maxpagesize=5,odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname,OData.Community.Display.V1.FormattedValue"`)
	if r.body["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "account" || r.body["statecode@OData.Community.Display.V1.FormattedValue"] != "Active" {
		t.Fatalf("a list of annotations: %v", r.body)
	}
	r = do(t, srv, "GET", ada, "")
	for k := range r.body {
		if strings.Contains(k, "@") && k != "@odata.etag" && k != "@odata.context" {
			t.Fatalf("annotation %s without the preference", k)
		}
	}
	// money, integers, booleans, choices on a collection
	if r := do(t, srv, "POST", "/api/data/v9.2/accounts", `{"name":"Big","revenue":1234567.5,"numberofemployees":12000}`); r.status != 204 {
		t.Fatal(r.body)
	}
	r = do(t, srv, "GET", "/api/data/v9.2/accounts?$select=revenue,numberofemployees&$filter=name%20eq%20'Big'", "", "Prefer", `odata.include-annotations="*"`)
	row := r.body["value"].([]any)[0].(map[string]any)
	if row["revenue@OData.Community.Display.V1.FormattedValue"] != "$1,234,567.50" || row["numberofemployees@OData.Community.Display.V1.FormattedValue"] != "12,000" {
		t.Fatalf("numbers: %v", row)
	}
	if r := do(t, srv, "POST", "/api/data/v9.2/phonecalls?$select=directioncode,statuscode", `{"subject":"s","directioncode":true}`, "Prefer", `return=representation,odata.include-annotations="*"`); r.body["directioncode@OData.Community.Display.V1.FormattedValue"] != "Outgoing" || r.body["statuscode@OData.Community.Display.V1.FormattedValue"] != "Open" {
		t.Fatalf("boolean and status labels: %v", r.body)
	}
}

// TestWebAPINestedExpand: $expand inside the $expand of a lookup, through
// the Web API and CIF retrieveRecord.
func TestWebAPINestedExpand(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	if r := do(t, srv, "PATCH", "/api/data/v9.2/accounts(22222222-2222-4222-8222-222222222222)", `{"primarycontactid@odata.bind":"/contacts(55555555-5555-4555-8555-555555555555)"}`); r.status != 204 {
		t.Fatal(r.body)
	}
	const opts = "?$select=fullname&$expand=parentcustomerid_account($select=name;$expand=primarycontactid($select=fullname))"
	r := do(t, srv, "GET", "/api/data/v9.2/contacts(11111111-1111-4111-8111-111111111111)"+opts, "")
	acc, _ := r.body["parentcustomerid_account"].(map[string]any)
	pc, _ := acc["primarycontactid"].(map[string]any)
	if r.status != 200 || acc["name"] != "Analytical Engines Ltd" || pc["fullname"] != "Grace Hopper" {
		t.Fatalf("nested expand: %d %v", r.status, r.body)
	}
	res, err := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": "11111111-1111-4111-8111-111111111111", "queryParameters": opts})
	if err != nil || !strings.Contains(string(res), `"primarycontactid":{`) || !strings.Contains(string(res), "Grace Hopper") {
		t.Fatalf("cif retrieve: %s %v", res, err)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/contacts?$expand=parentcustomerid($expand=primarycontactid)", ""); r.status != 400 || errMsg(r) != "Could not find a property named 'parentcustomerid' on type 'Microsoft.Dynamics.CRM.contact'." {
		t.Fatalf("nested under a polymorphic lookup: %d %v", r.status, r.body)
	}
}

// TestWebAPIParameterAliases: the documented uses of parameter aliases
// in $filter and $orderby (filter-rows.md: "contains(@p1,'Contoso')&@p1=name",
// "$orderby=@p1 asc&$filter=@p1 gt @p2&@p1=revenue&@p2=100000") and as a
// query function's parameters, through the Web API and a CIF search.
func TestWebAPIParameterAliases(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	names := func(r webResp, col string) []string {
		var out []string
		for _, v := range r.body["value"].([]any) {
			out = append(out, v.(map[string]any)[col].(string))
		}
		return out
	}
	for _, tt := range []struct {
		path, col string
		want      []string
	}{
		{"contacts?$select=fullname&$filter=contains(@p1,'Ada')&@p1=fullname", "fullname", []string{"Ada Lovelace"}},
		{"accounts?$select=name&$orderby=@p1%20desc&$filter=@p1%20gt%20@p2&@p1=numberofemployees&@p2=10", "name", []string{"Bletchley Consulting", "Analytical Engines Ltd"}},
		{"contacts?$select=fullname&$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='fullname'&@p2=%5B'Grace%20Hopper','Alan%20Turing'%5D&$orderby=fullname", "fullname", []string{"Alan Turing", "Grace Hopper"}},
		{"contacts?$select=fullname&$filter=fullname%20eq%20@p1&@p1='Ada+Lovelace'", "fullname", []string{"Ada Lovelace"}},
	} {
		r := do(t, srv, "GET", "/api/data/v9.2/"+tt.path, "")
		if r.status != 200 || !slices.Equal(names(r, tt.col), tt.want) {
			t.Errorf("%s: %d %v, want %v", tt.path, r.status, r.body, tt.want)
		}
	}
	res, err := call(e, protocol.MethodSearch, map[string]any{"entityName": "contact", "queryParameters": "?$select=fullname&$filter=startswith(fullname,@p1)&@p1='Gr'"})
	if err != nil || !strings.Contains(string(res), "Grace Hopper") || strings.Contains(string(res), "Ada") {
		t.Fatalf("CIF search with an alias: %s %v", res, err)
	}
}

// TestNavigationPropertyNames: a lookup is bound, expanded and followed in
// $filter only by the navigation property names Dataverse serves
// (primarycontactid; parentcustomerid_account; on an activity
// regardingobjectid_contact_phonecall); the polymorphic lookup's own name
// and other spellings are refused as Dataverse refuses them, so a widget
// that works here does not meet a 400 on an org.
func TestNavigationPropertyNames(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	const ada, acc = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	for _, tt := range []struct {
		set, nav, ref string
		served        bool
	}{
		{"contacts", "parentcustomerid_account", "/accounts(" + acc + ")", true},
		{"contacts", "parentcustomerid_contact", "/contacts(" + ada + ")", true},
		{"phonecalls", "regardingobjectid_contact_phonecall", "/contacts(" + ada + ")", true},
		{"tasks", "regardingobjectid_account_task", "/accounts(" + acc + ")", true},
		{"accounts", "primarycontactid", "/contacts(" + ada + ")", true},
		{"incidents", "customerid_account", "/accounts(" + acc + ")", true},
		{"contacts", "parentcustomerid", "/accounts(" + acc + ")", false},
		{"phonecalls", "regardingobjectid", "/contacts(" + ada + ")", false},
		{"phonecalls", "regardingobjectid_contact", "/contacts(" + ada + ")", false},
		{"phonecalls", "regardingobjectid_contact_task", "/contacts(" + ada + ")", false},
		{"accounts", "primarycontactid_contact", "/contacts(" + ada + ")", false},
		{"incidents", "customerid", "/accounts(" + acc + ")", false},
	} {
		body := `{"` + tt.nav + `@odata.bind":"` + tt.ref + `"}`
		if tt.served {
			if tt.set == "incidents" {
				body = `{"title":"t",` + body[1:]
			}
			r := do(t, srv, "POST", "/api/data/v9.2/"+tt.set+"?$expand="+tt.nav, body, "Prefer", "return=representation")
			if x, _ := r.body[tt.nav].(map[string]any); r.status != 201 || x == nil {
				t.Errorf("%s %s: bind and $expand: %d %v", tt.set, tt.nav, r.status, r.body)
			}
			continue
		}
		entity := strings.TrimSuffix(tt.set, "s")
		r := do(t, srv, "POST", "/api/data/v9.2/"+tt.set, body)
		want := "An undeclared property '" + tt.nav + "' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values."
		if r.status != 400 || errCode(r) != "0x80060888" || errMsg(r) != want {
			t.Errorf("%s bind %s: %d %v", tt.set, tt.nav, r.status, r.body)
		}
		unknown := "Could not find a property named '" + tt.nav + "' on type 'Microsoft.Dynamics.CRM." + entity + "'."
		for _, q := range []string{"$expand=" + tt.nav, "$filter=" + tt.nav + "/createdon%20ne%20null"} {
			if r := do(t, srv, "GET", "/api/data/v9.2/"+tt.set+"?"+q, ""); r.status != 400 || errCode(r) != "0x0" || errMsg(r) != unknown {
				t.Errorf("%s?%s: %d %v", tt.set, q, r.status, r.body)
			}
		}
	}
	// The lookup-value annotation names the property a client binds with.
	r := do(t, srv, "POST", "/api/data/v9.2/phonecalls?$select=_regardingobjectid_value", `{"regardingobjectid_contact_phonecall@odata.bind":"/contacts(`+ada+`)"}`,
		"Prefer", `return=representation,odata.include-annotations="*"`)
	if got := r.body["_regardingobjectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]; got != "regardingobjectid_contact_phonecall" {
		t.Errorf("associatednavigationproperty %v", got)
	}
}

// TestWebAPICollectionExpand: one-to-many relationships expand with
// $select, $filter, $orderby and $top inside, through the Web API and CIF.
func TestWebAPICollectionExpand(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	for _, body := range []string{
		`{"lastname":"Babbage","firstname":"Charles","parentcustomerid_account@odata.bind":"/accounts(22222222-2222-4222-8222-222222222222)"}`,
		`{"lastname":"Menabrea","firstname":"Luigi","statecode":1,"statuscode":2,"parentcustomerid_account@odata.bind":"/accounts(22222222-2222-4222-8222-222222222222)"}`,
	} {
		if r := do(t, srv, "POST", "/api/data/v9.2/contacts", body); r.status != 204 {
			t.Fatal(r.body)
		}
	}
	const opts = "?$select=name&$expand=contact_customer_accounts($select=lastname;$filter=statecode%20eq%200;$orderby=lastname%20desc;$top=5)"
	r := do(t, srv, "GET", "/api/data/v9.2/accounts(22222222-2222-4222-8222-222222222222)"+opts, "")
	if got := rowsOf(r.body["contact_customer_accounts"].([]any), "lastname"); r.status != 200 || got != "lastname=Lovelace;lastname=Babbage" {
		t.Fatalf("expand: %d %q %v", r.status, got, r.body)
	}
	r = do(t, srv, "GET", "/api/data/v9.2/accounts?$select=name&$orderby=name&$expand=contact_customer_accounts($select=firstname;$top=1)", "")
	vals := r.body["value"].([]any)
	if len(vals) != 2 || len(vals[0].(map[string]any)["contact_customer_accounts"].([]any)) != 1 || len(vals[1].(map[string]any)["contact_customer_accounts"].([]any)) != 1 {
		t.Fatalf("expand on a collection: %v", r.body)
	}
	res, err := call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "account", "entityId": "22222222-2222-4222-8222-222222222222",
		"queryParameters": "?$select=name&$expand=contact_customer_accounts($select=lastname;$orderby=lastname)"})
	if err != nil || !strings.Contains(string(res), `"contact_customer_accounts":[{`) || strings.Index(string(res), "Babbage") > strings.Index(string(res), "Lovelace") {
		t.Fatalf("cif retrieve: %s %v", res, err)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/accounts?$expand=contact_customer_accounts($select=nope)", ""); r.status != 400 || errCode(r) != "0x0" {
		t.Fatalf("bad select inside: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/accounts?$expand=contact_customer_accounts($skip=1)", ""); r.status != 400 || !strings.Contains(errMsg(r), "$select, $filter, $orderby and $top") {
		t.Fatalf("bad option inside: %d %v", r.status, r.body)
	}
}

// TestWebAPIEntityDefinitionsFilter: $filter on the EntityDefinitions and
// Attributes collections.
func TestWebAPIEntityDefinitionsFilter(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	r := do(t, srv, "GET", "/api/data/v9.2/EntityDefinitions?$select=LogicalName&$filter=IsActivity%20eq%20true", "")
	if got := rowsOf(r.body["value"].([]any), "LogicalName"); r.status != 200 || got != "LogicalName=phonecall;LogicalName=task" {
		t.Fatalf("IsActivity: %d %q %v", r.status, got, r.body)
	}
	r = do(t, srv, "GET", "/api/data/v9.2/EntityDefinitions?$select=EntitySetName&$filter=LogicalName%20eq%20'contact'%20or%20startswith(LogicalName,'new_')", "")
	if got := rowsOf(r.body["value"].([]any), "EntitySetName"); got != "EntitySetName=contacts;EntitySetName=new_calls" {
		t.Fatalf("LogicalName: %q %v", got, r.body)
	}
	r = do(t, srv, "GET", "/api/data/v9.2/EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName&$filter=AttributeType%20eq%20'Customer'", "")
	if got := rowsOf(r.body["value"].([]any), "LogicalName"); r.status != 200 || got != "LogicalName=parentcustomerid" {
		t.Fatalf("Attributes: %d %q %v", r.status, got, r.body)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/EntityDefinitions?$filter=Nope%20eq%201", ""); r.status != 400 || !strings.Contains(errMsg(r), "'Nope'") {
		t.Fatalf("unknown property: %d %v", r.status, r.body)
	}
}

// TestSchemaAttributeTypes: types declared in the schema file are checked
// on writes and reported by EntityDefinitions and $metadata.
func TestSchemaAttributeTypes(t *testing.T) {
	schema := `{"entities":[{"logicalName":"new_call","entitySetName":"new_calls","primaryIdAttribute":"new_callid","primaryNameAttribute":"new_name",
	  "attributes":["new_name","new_duration","new_kind","new_when"]}],
	  "attributeTypes":{"new_call":{"new_name":{"type":"String","maxLength":10},"new_duration":{"type":"Integer"},
	    "new_kind":{"type":"Picklist","options":[1,2]},"new_when":{"type":"DateTime"}}}}`
	e := newEmulator(t, emulator.Config{Schema: []byte(schema)})
	srv := newWebServer(t, e)
	for body, want := range map[string]string{
		`{"new_name":"ok","new_duration":5,"new_kind":2,"new_when":"2026-01-31T08:00:00Z"}`: "",
		`{"new_name":"far too long"}`: "0x80044331",
		`{"new_duration":"5"}`:        "0x80048d19",
		`{"new_kind":3}`:              "0x8004431a",
		`{"new_when":"soon"}`:         "0x80048d19",
	} {
		r := do(t, srv, "POST", "/api/data/v9.2/new_calls", body)
		if want == "" && r.status != 204 || want != "" && (r.status != 400 || errCode(r) != want) {
			t.Errorf("%s: %d %v, want %q", body, r.status, r.body, want)
		}
	}
	r := do(t, srv, "GET", "/api/data/v9.2/EntityDefinitions(LogicalName='new_call')/Attributes?$select=LogicalName,AttributeType&$filter=AttributeType%20eq%20'Integer'", "")
	if got := rowsOf(r.body["value"].([]any), "LogicalName"); got != "LogicalName=new_duration" {
		t.Fatalf("EntityDefinitions: %q %v", got, r.body)
	}
	for bad, want := range map[string]string{
		`{"attributeTypes":{"contact":{"nope":{"type":"Integer"}}}}`:                   "not a writable attribute",
		`{"attributeTypes":{"contact":{"jobtitle":{"type":"Text"}}}}`:                  ".type must be one of",
		`{"attributeTypes":{"contact":{"jobtitle":{"type":"Integer","maxLength":5}}}}`: "maxLength applies to String",
		`{"attributeTypes":{"contact":{"jobtitle":{"type":"Picklist"}}}}`:              "options lists the values",
		`{"attributeTypes":{"nobody":{"x":{"type":"Integer"}}}}`:                       "no such entity",
	} {
		if _, err := emulator.New(emulator.Config{Schema: []byte(bad)}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", bad, err, want)
		}
	}
}

// TestStateAndStatus: statecode and statuscode follow a built-in table's
// lifecycle as in Dataverse: a statecode written alone brings its default
// statuscode (PATCH phonecall {statecode:1} is Completed/Made); a statuscode
// must be one of its statecode's, else 400 0x80048408 "… is not a valid
// status code for state code PhoneCallState.Completed …"; the sample
// softphone's hang-up ({statecode:1, statuscode:2}) passes.
func TestStateAndStatus(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	created := func(set, body string) string {
		r := do(t, srv, "POST", "/api/data/v9.2/"+set, body, "Prefer", "return=representation")
		if r.status != 201 {
			t.Fatalf("create %s %s: %d %v", set, body, r.status, r.body)
		}
		for k, v := range r.body {
			if strings.HasSuffix(k, "id") && k != "versionnumber" && !strings.HasPrefix(k, "_") {
				if s, ok := v.(string); ok && len(s) == 36 {
					return "/api/data/v9.2/" + set + "(" + s + ")"
				}
			}
		}
		t.Fatalf("no id in %v", r.body)
		return ""
	}
	state := func(path string) (any, any) {
		r := do(t, srv, "GET", path+"?$select=statecode,statuscode", "")
		return r.body["statecode"], r.body["statuscode"]
	}
	pc := created("phonecalls", `{"subject":"s"}`)
	if s, st := state(pc); s != float64(0) || st != float64(1) {
		t.Fatalf("new phonecall: %v %v", s, st)
	}
	if r := do(t, srv, "PATCH", pc, `{"statecode":1,"statuscode":2}`); r.status != 204 {
		t.Fatalf("hang-up: %d %v", r.status, r.body)
	}
	r := do(t, srv, "PATCH", pc, `{"statuscode":3}`)
	id := strings.TrimSuffix(strings.TrimPrefix(pc, "/api/data/v9.2/phonecalls("), ")")
	if want := "3 is not a valid status code for state code PhoneCallState.Completed on phonecall with Id " + id + "."; r.status != 400 || errCode(r) != "0x80048408" || errMsg(r) != want {
		t.Fatalf("status of another state: %d %v, want %q", r.status, r.body, want)
	}
	if s, st := state(pc); s != float64(1) || st != float64(2) {
		t.Fatalf("the refused write changed the record: %v %v", s, st)
	}
	if r := do(t, srv, "PATCH", pc, `{"statecode":2}`); r.status != 204 {
		t.Fatalf("cancel: %d %v", r.status, r.body)
	}
	if s, st := state(pc); s != float64(2) || st != float64(3) {
		t.Fatalf("statecode alone takes its default status: %v %v", s, st)
	}
	acc := created("accounts", `{"name":"Lifecycle","statecode":1}`)
	if s, st := state(acc); s != float64(1) || st != float64(2) {
		t.Fatalf("account created inactive: %v %v", s, st)
	}
	if r := do(t, srv, "POST", "/api/data/v9.2/accounts", `{"name":"x","statuscode":99}`); r.status != 400 || errCode(r) != "0x80048408" || !strings.Contains(errMsg(r), "99 is not a valid status code for state code AccountState.Active on account with Id ") {
		t.Fatalf("unknown status: %d %v", r.status, r.body)
	}
	task := created("tasks", `{"subject":"t"}`)
	if r := do(t, srv, "PATCH", task, `{"statuscode":5}`); r.status != 400 || !strings.Contains(errMsg(r), "TaskState.Open") {
		t.Fatalf("task completed status while open: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "PATCH", task, `{"statecode":1,"statuscode":5}`); r.status != 204 {
		t.Fatalf("task completed: %d %v", r.status, r.body)
	}
	// The CIF path answers the same error as -32001.
	_, err := call(e, protocol.MethodUpdateRecord, map[string]any{"entityName": "phonecall", "entityId": id, "value": map[string]any{"statuscode": 1}})
	if d, ok := protocol.BackendData(err); !ok || d.HTTPStatus != 400 || d.DataverseCode != "0x80048408" || !strings.Contains(d.ErrorMsg, "PhoneCallState.Canceled") {
		t.Fatalf("CIF update: %v", err)
	}
}

// TestWebAPIRelatedCollection: GET accounts(<id>)/contact_customer_accounts
// (a filtered collection, as Dataverse serves it) answers the account's
// contacts with $select, $filter, $orderby, $top and $count working as on
// the set; a missing record is 404; FetchXML there is refused by name.
func TestWebAPIRelatedCollection(t *testing.T) {
	srv := newWebServer(t, newFetchEmulator(t))
	const acc = "/api/data/v9.2/accounts(22222222-2222-4222-8222-222222222222)"
	if r := do(t, srv, "POST", "/api/data/v9.2/contacts", `{"firstname":"Ann","lastname":"Other","parentcustomerid_account@odata.bind":"`+acc[len("/api/data/v9.2"):]+`"}`); r.status != 204 {
		t.Fatal(r.body)
	}
	names := func(r webResp) []string {
		var out []string
		for _, v := range r.body["value"].([]any) {
			out = append(out, v.(map[string]any)["fullname"].(string))
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"?$select=fullname&$orderby=fullname", []string{"Ada Lovelace", "Ann Other"}},
		{"?$select=fullname&$filter=startswith(fullname,'Ann')", []string{"Ann Other"}},
		{"?$select=fullname&$filter=firstname+eq+'Ada'", []string{"Ada Lovelace"}},
		{"?$select=fullname&$orderby=fullname%20desc&$top=1&$count=true", []string{"Ann Other"}},
	} {
		r := do(t, srv, "GET", acc+"/contact_customer_accounts"+tt.query, "")
		if r.status != 200 || !slices.Equal(names(r), tt.want) {
			t.Errorf("%s: %d %v, want %v", tt.query, r.status, r.body, tt.want)
		}
	}
	if r := do(t, srv, "GET", acc+"/contact_customer_accounts?$select=fullname&$count=true", ""); r.body["@odata.count"] != float64(2) {
		t.Errorf("$count: %v", r.body)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/accounts(44444444-4444-4444-8444-444444444444)/Account_Tasks", ""); r.status != 200 || len(r.body["value"].([]any)) != 0 {
		t.Errorf("no tasks: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/accounts(99999999-9999-4999-8999-999999999999)/contact_customer_accounts", ""); r.status != 404 || errCode(r) != "0x80040217" {
		t.Errorf("missing account: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", acc+"/contact_customer_accounts?fetchXml=%3Cfetch%2F%3E", ""); r.status != 400 || !strings.Contains(errMsg(r), "related collection") {
		t.Errorf("fetchXml on a related collection: %d %v", r.status, r.body)
	}
	if r := do(t, srv, "POST", acc+"/contact_customer_accounts", `{}`); r.status != 400 || errCode(r) != "0x80060888" || !strings.Contains(errMsg(r), "does not implement POST on a related collection") {
		t.Errorf("POST to a related collection: %d %v", r.status, r.body)
	}
}

// TestFilterWildcards: contains, startswith and endswith take the
// wildcards Dataverse documents for them (filter-rows.md: % any run, _ one
// character, [abc] and [a-c] one of, [^a] none of); a literal % or _ is
// written [%] or [_]. Without a wildcard they match the text as before.
func TestFilterWildcards(t *testing.T) {
	srv := newWebServer(t, newFetchEmulator(t))
	for _, c := range []string{`{"firstname":"Per%cent","lastname":"Sign"}`, `{"firstname":"Under_score","lastname":"Line"}`} {
		if r := do(t, srv, "POST", "/api/data/v9.2/contacts", c); r.status != 204 {
			t.Fatal(r.body)
		}
	}
	for filter, want := range map[string]string{
		"contains(fullname,'Lovelace')":  "Ada Lovelace",
		"startswith(fullname,'A_a L')":   "Ada Lovelace",
		"startswith(fullname,'A%g')":     "Alan Turing",
		"contains(fullname,'[gh]opper')": "Grace Hopper",
		"startswith(fullname,'[a-b]la')": "Alan Turing",
		"startswith(fullname,'A[^d]')":   "Alan Turing",
		"endswith(fullname,'T_ring')":    "Alan Turing",
		"contains(fullname,'[%]')":       "Per%cent Sign",
		"contains(fullname,'r[_]s')":     "Under_score Line",
		"contains(fullname,'%cent')":     "Per%cent Sign",
		"endswith(fullname,'Hopp%r')":    "Grace Hopper",
		"startswith(fullname,'Grace%')":  "Grace Hopper",
	} {
		r := do(t, srv, "GET", "/api/data/v9.2/contacts?$select=fullname&$filter="+url.QueryEscape(filter), "")
		var got []string
		for _, v := range r.body["value"].([]any) {
			got = append(got, v.(map[string]any)["fullname"].(string))
		}
		if r.status != 200 || len(got) != 1 || got[0] != want {
			t.Errorf("%s: %d %v, want [%s]", filter, r.status, got, want)
		}
	}
}

// TestFilterOperandTypes: a comparison of a column with a literal of
// another type is refused as Dataverse refuses it, through the Web API and
// a CIF search (a quoted GUID is the classic: it finds nothing here if
// accepted, and fails on an org).
func TestFilterOperandTypes(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	const want = "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'."
	r := do(t, srv, "GET", "/api/data/v9.2/contacts?$filter="+url.QueryEscape("_parentcustomerid_value eq '22222222-2222-4222-8222-222222222222'"), "")
	if r.status != 400 || errCode(r) != "0x80060888" || errMsg(r) != want {
		t.Fatalf("web api: %d %v", r.status, r.body)
	}
	_, err := call(e, protocol.MethodSearch, map[string]any{"entityName": "contact", "queryParameters": "?$filter=_parentcustomerid_value eq '22222222-2222-4222-8222-222222222222'"})
	if d, ok := protocol.BackendData(err); !ok || d.HTTPStatus != 400 || d.ErrorMsg != want {
		t.Fatalf("cif search: %v", err)
	}
	for _, ok := range []string{"_parentcustomerid_value eq 22222222-2222-4222-8222-222222222222", "numberofemployees gt 10.5", "createdon gt 2020-01-01", "statecode eq 0 and fullname ne null"} {
		set := "contacts"
		if strings.HasPrefix(ok, "numberofemployees") {
			set = "accounts"
		}
		if r := do(t, srv, "GET", "/api/data/v9.2/"+set+"?$filter="+url.QueryEscape(ok), ""); r.status != 200 {
			t.Errorf("%s: %d %v", ok, r.status, r.body)
		}
	}
}
