package dataverse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/dataverse"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// The tests in this file hold the dataverse backend, talking to the
// emulator's Web API face, to the answers the emulator gives directly, so a
// widget sees the same shapes in development and in front of a real org.

func TestBoundExecute(t *testing.T) {
	f := newFixture(t, nil)
	var acc protocol.CreateResult
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "account", "value": map[string]any{"name": "Contoso"}}, &acc)
	bound := "entity"
	exec := func(opType int, name string, data any) (json.RawMessage, error) {
		return f.call("s1", protocol.BackendExecute, map[string]any{"data": data,
			"metaData": map[string]any{"boundParameter": bound, "operationType": opType, "operationName": name}})
	}
	target := map[string]any{"entityType": "account", "id": acc.ID}

	res, err := exec(0, "new_Ping", map[string]any{"entity": target, "Text": "hi"})
	if err != nil || string(res) != `{"pong":true}` {
		t.Fatalf("bound action: %s %v", res, err)
	}
	if r := f.org.last(); r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/accounts("+acc.ID+")/Microsoft.Dynamics.CRM.new_Ping") {
		t.Fatalf("bound action request %+v", r)
	}
	res, err = exec(1, "new_GetQueueLength", map[string]any{"entity": target, "Queue": "support"})
	if err != nil || string(res) != `{"length":3}` {
		t.Fatalf("bound function: %s %v", res, err)
	}
	if r := f.org.last(); !strings.HasSuffix(r.Path, "/accounts("+acc.ID+")/Microsoft.Dynamics.CRM.new_GetQueueLength(Queue=@Queue)") {
		t.Fatalf("bound function request %+v", r)
	}
	if res, err = exec(0, "new_Fire", map[string]any{"entity": map[string]any{"entityType": "contact"}}); err != nil || string(res) != "null" {
		t.Fatalf("action bound to the collection: %s %v", res, err)
	}
	if r := f.org.last(); !strings.HasSuffix(r.Path, "/contacts/Microsoft.Dynamics.CRM.new_Fire") {
		t.Fatalf("collection-bound request %+v", r)
	}

	// The emulator executing the same bound requests directly answers the same.
	for _, c := range []struct {
		opType int
		name   string
		data   map[string]any
	}{
		{0, "new_Ping", map[string]any{"entity": target, "Text": "hi"}},
		{1, "new_GetQueueLength", map[string]any{"entity": target, "Queue": "support"}},
		{0, "new_Fire", map[string]any{"entity": map[string]any{"entityType": "contact"}}},
	} {
		got, err := exec(c.opType, c.name, c.data)
		direct := f.org.direct(t, protocol.BackendExecute, map[string]any{"data": c.data,
			"metaData": map[string]any{"boundParameter": bound, "operationType": c.opType, "operationName": c.name}})
		var g, w any
		if err != nil || json.Unmarshal(got, &g) != nil || json.Unmarshal(direct, &w) != nil || !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: through dataverse %s (%v), emulator directly %s", c.name, got, err, direct)
		}
	}

	_, err = exec(0, "new_Missing", map[string]any{"entity": target})
	d := backendErr(t, err, http.StatusNotFound, "0x8006088a")
	if d.ErrorMsg != "Resource not found for the segment 'Microsoft.Dynamics.CRM.new_Missing'." {
		t.Fatalf("unknown action message %q", d.ErrorMsg)
	}
	_, err = exec(0, "new_Ping", map[string]any{"entity": map[string]any{"entityType": "account", "id": otherID}})
	backendErr(t, err, http.StatusNotFound, "0x80040217")
	_, err = exec(0, "new_Ping", map[string]any{"entity": map[string]any{"entityType": "account", "id": "not-a-guid"}})
	testutil.WantCode(t, err, protocol.CodeInvalidParams)
	_, err = exec(0, "new_Ping", map[string]any{"Text": "no target"})
	testutil.WantCode(t, err, protocol.CodeInvalidParams)
}

func TestEntityMetadataMatchesEmulator(t *testing.T) {
	f := newFixture(t, nil)
	for _, entity := range f.org.emu.Entities() {
		for _, attrs := range [][]string{nil, {"parentcustomerid", "fullname", "nosuchattribute"}, {"regardingobjectid"}} {
			params := map[string]any{"entityName": entity, "attributes": attrs}
			want := f.org.direct(t, protocol.MethodGetEntityMetadata, params)
			got := f.ok(protocol.MethodGetEntityMetadata, params, nil)
			if string(got) != string(want) {
				t.Fatalf("%s %v:\nthrough dataverse %s\nemulator directly %s", entity, attrs, got, want)
			}
		}
	}
	if !strings.Contains(string(f.ok(protocol.MethodGetEntityMetadata, map[string]any{"entityName": "phonecall"}, nil)), `"Targets":["contact","account","incident","lead"]`) {
		t.Fatal("phonecall's regardingobjectid lost its Targets")
	}
	// Cached: a second round reads nothing, and a create needs no definition.
	f.org.reset()
	f.ok(protocol.MethodGetEntityMetadata, map[string]any{"entityName": "contact"}, nil)
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "x"}}, nil)
	if n := f.org.count(http.MethodGet, ""); n != 0 {
		t.Fatalf("%d metadata requests after the first round, want 0 (cached)", n)
	}
	// An entity without lookups costs one request, one with lookups two.
	g := newFixture(t, nil)
	g.ok(protocol.MethodGetEntityMetadata, map[string]any{"entityName": "phonecall"}, nil)
	if n, lk := g.org.count(http.MethodGet, ""), g.org.count(http.MethodGet, "/Microsoft.Dynamics.CRM.LookupAttributeMetadata"); n != 2 || lk != 1 {
		t.Fatalf("%d requests (%d lookup casts), want 2 (1)", n, lk)
	}
	_, err := g.call("s1", protocol.MethodGetEntityMetadata, map[string]any{"entityName": "nosuchentity"})
	backendErr(t, err, http.StatusNotFound, "0x80040217")
}

func TestSearchFollowsNextLinks(t *testing.T) {
	f := newFixture(t, func(c *dataverse.Config) { c.PageSize = 2 })
	for i := range 7 {
		f.org.direct(t, protocol.MethodCreateRecord, map[string]any{"entityName": "contact",
			"value": map[string]any{"firstname": fmt.Sprintf("P%d", i), "lastname": "Paged"}})
	}
	tests := []struct {
		name, query string
		wantRecords int
		wantPages   int
	}{
		{"every page", "?$select=fullname&$orderby=firstname desc", 7, 4},
		{"up to $top", "?$select=fullname&$filter=lastname eq 'Paged'&$orderby=firstname&$top=5", 5, 3},
		{"$top on a page boundary", "?$select=fullname&$orderby=firstname&$top=4", 4, 2},
		{"one page", "?$select=fullname&$top=1", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{protocol.MethodSearch, protocol.MethodSearchAndOpenRecords} {
				params := map[string]any{"entityName": "contact", "queryParameters": tt.query}
				f.org.reset()
				got := f.ok(method, params, nil)
				want := f.org.direct(t, method, params)
				if string(got) != string(want) {
					t.Fatalf("through dataverse %s\nemulator directly %s", got, want)
				}
				var m map[string]any
				if json.Unmarshal(got, &m); len(m) != tt.wantRecords {
					t.Fatalf("%d records, want %d", len(m), tt.wantRecords)
				}
				if n := f.org.count(http.MethodGet, "/contacts"); n != tt.wantPages {
					t.Fatalf("%d page requests, want %d", n, tt.wantPages)
				}
				if p := f.org.last().Header.Get("Prefer"); p != "odata.maxpagesize=2" {
					t.Fatalf("page request Prefer %q", p)
				}
			}
		})
	}

	t.Run("a nextLink to another host is not followed", func(t *testing.T) {
		evil := newOrg(t)
		f.org.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"value":[{"contactid":%q}],"@odata.nextLink":%q}`, adaID, evil.URL+"/api/data/v9.2/contacts?$skiptoken=x")
			return true
		})
		defer f.org.setIntercept(nil)
		_, err := f.call("s1", protocol.MethodSearch, map[string]any{"entityName": "contact"})
		if pe := testutil.WantCode(t, err, protocol.CodeBackend); !strings.Contains(pe.Message, "does not point under") {
			t.Fatalf("foreign nextLink: %v", pe)
		}
		if n := evil.count("", ""); n != 0 {
			t.Fatalf("the other host got %d requests (with our token)", n)
		}
	})
}

func TestSearchCap(t *testing.T) {
	f := newFixture(t, nil) // the org's default page: 5000
	const n = dataverse.MaxSearchRecords + 3
	for i := range n {
		f.org.direct(t, protocol.MethodCreateRecord, map[string]any{"entityName": "task", "value": map[string]any{"subject": fmt.Sprint(i)}})
	}
	params := map[string]any{"entityName": "task", "queryParameters": "?$select=subject"}
	raw := f.ok(protocol.MethodSearch, params, nil)
	var got map[string]json.RawMessage
	json.Unmarshal(raw, &got)
	if len(got) != dataverse.MaxSearchRecords {
		t.Fatalf("%d records through dataverse, want the cap %d", len(got), dataverse.MaxSearchRecords)
	}
	// The emulator caps its own CIF search the same way.
	if want := f.org.direct(t, protocol.MethodSearch, params); string(raw) != string(want) {
		t.Fatalf("through dataverse and on the emulator directly the capped answers differ (%d and %d bytes)", len(raw), len(want))
	}
	if pages := f.org.count(http.MethodGet, "/tasks"); pages != 1 {
		t.Fatalf("%d page requests, want 1 (the cap is one default page)", pages)
	}
}

func TestEnvironmentMatchesEmulator(t *testing.T) {
	f := newFixture(t, nil)
	var direct, got map[string]any
	json.Unmarshal(f.org.direct(t, protocol.MethodGetEnvironment, map[string]any{}), &direct)
	f.ok(protocol.MethodGetEnvironment, map[string]any{}, &got)
	if !reflect.DeepEqual(testutil.SortedKeys(got), testutil.SortedKeys(direct)) {
		t.Fatalf("keys %v, want the emulator's %v", testutil.SortedKeys(got), testutil.SortedKeys(direct))
	}
	for k, v := range direct {
		if reflect.TypeOf(got[k]) != reflect.TypeOf(v) {
			t.Errorf("%s is a %T (%v), the emulator's a %T (%v)", k, got[k], got[k], v, v)
		}
	}
	// What the org knows matches what the emulator reports of itself.
	for _, k := range []string{"userId", "orgId", "userLcid", "orgLcid", "crmVersion", "username", "userRoles", "isDirty"} {
		if !reflect.DeepEqual(got[k], direct[k]) {
			t.Errorf("%s = %v, the emulator says %v", k, got[k], direct[k])
		}
	}
	if got["userLcid"] != float64(1035) || got["crmVersion"] != "9.2.24011.00192" || len(got["userRoles"].([]any)) != 1 {
		t.Fatalf("environment %v", got)
	}
	if got["clientUrl"] != f.org.URL || got["appUrl"] != f.org.URL+"/main.aspx" {
		t.Fatalf("urls %v %v", got["clientUrl"], got["appUrl"])
	}
	f.org.reset()
	f.ok(protocol.MethodGetEnvironment, map[string]any{}, nil)
	if n := f.org.count("", ""); n != 0 {
		t.Fatalf("%d requests for a cached environment", n)
	}
}

func TestEnvironmentFailureIsNotCached(t *testing.T) {
	f := newFixture(t, nil)
	f.org.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/systemusers(") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"0x80040220","message":"Principal user is missing prvReadUser privilege."}}`)
		return true
	})
	_, err := f.call("s1", protocol.MethodGetEnvironment, map[string]any{})
	backendErr(t, err, http.StatusForbidden, "0x80040220")
	f.org.setIntercept(nil)
	var env map[string]any
	f.ok(protocol.MethodGetEnvironment, map[string]any{}, &env)
	if env["username"] != "agent@contoso.com" {
		t.Fatalf("environment after the failure %v", env)
	}
}

// TestSearchDropsCIFSearchText: CIF's searchAndOpenRecords reads $search as
// the text of the search page it opens, never sends it to the Web API
// (which refuses $search on an entity set); the dataverse backend drops it
// as the emulator does, so the documented example answers the same on both.
func TestSearchDropsCIFSearchText(t *testing.T) {
	f := newFixture(t, nil)
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "Ada", "lastname": "Lovelace", "telephone1": "+358401234567"}}, nil)
	for _, method := range []string{protocol.MethodSearchAndOpenRecords, protocol.MethodSearch} {
		for _, q := range []string{
			"?$select=fullname&$search=Ada",
			"?$search=Ada&$select=fullname&$filter=telephone1 eq '+358401234567'",
			"$select=fullname&%24search=Ada%20L",
		} {
			params := map[string]any{"entityName": "contact", "queryParameters": q, "searchOnly": true}
			want := f.org.direct(t, method, params)
			got, err := f.call("s1", method, params)
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s %q: through dataverse %s (%v), emulator directly %s", method, q, got, err, want)
			}
			if r := f.org.last(); strings.Contains(strings.ToLower(r.Query), "search") {
				t.Fatalf("%s %q: the org was sent %q", method, q, r.Query)
			}
		}
	}
}

// TestServiceProtection429FromTheEmulator: the emulator's injected 429
// with retryAfterMs reaches a widget through the dataverse backend as it
// does directly: the same code and status, and the Retry-After (whole
// seconds on the wire) as data.retryAfterMs for the retry engine.
func TestServiceProtection429FromTheEmulator(t *testing.T) {
	f := newFixture(t, nil)
	const msg = "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
	rule := protocol.FaultRule{Method: "createrecord", Entity: "contact", Count: 1,
		Error: &protocol.FaultError{Status: 429, Code: "0x80072322", Message: msg, RetryAfterMs: 2000}}
	if err := f.org.emu.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{rule}}); err != nil {
		t.Fatal(err)
	}
	_, err := f.call("s1", protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"lastname": "Busy"}})
	d := backendErr(t, err, http.StatusTooManyRequests, "0x80072322")
	if d.RetryAfterMs != 2000 || d.ErrorMsg != msg {
		t.Fatalf("through dataverse: %+v", d)
	}
	if err := f.org.emu.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{rule}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.org.emu.Execute(context.Background(), &correlation.Attempt{Session: "direct", ID: "d", Method: protocol.MethodCreateRecord,
		Params: json.RawMessage(`{"entityName":"contact","value":{"lastname":"Busy"}}`)})
	if direct, ok := protocol.BackendData(err); !ok || direct.RetryAfterMs != d.RetryAfterMs || direct.DataverseCode != d.DataverseCode {
		t.Fatalf("emulator directly %+v (%v), through dataverse %+v", direct, err, d)
	}
}
