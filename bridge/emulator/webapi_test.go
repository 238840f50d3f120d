package emulator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestWebAPI(t *testing.T) {
	e := newSeeded(t)
	srv := newWebServer(t, e)
	const api = "/api/data/v9.2/"
	const newID = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		headers    []string
		wantStatus int
		wantCode   string            // error code, if any
		wantHeader map[string]string // header → prefix
		wantBody   map[string]any
	}{
		{name: "create 204", method: "POST", path: api + "contacts", body: `{"contactid":"` + newID + `","firstname":"Grace","lastname":"Hopper"}`,
			wantStatus: 204, wantHeader: map[string]string{"OData-EntityId": srv.URL + api + "contacts(" + newID + ")", "OData-Version": "4.0"}},
		{name: "create same key 412", method: "POST", path: api + "contacts", body: `{"contactid":"` + newID + `"}`,
			wantStatus: 412, wantCode: emulator.CodeDuplicateKey},
		{name: "create representation 201", method: "POST", path: api + "accounts?$select=name", body: `{"name":"Contoso"}`,
			headers: []string{"Prefer", "return=representation"}, wantStatus: 201,
			wantHeader: map[string]string{"Preference-Applied": "return=representation"}, wantBody: map[string]any{"name": "Contoso"}},
		{name: "retrieve", method: "GET", path: api + "contacts(" + newID + ")?$select=fullname", wantStatus: 200,
			wantBody: map[string]any{"fullname": "Grace Hopper", "contactid": newID}},
		{name: "retrieve expand", method: "GET", path: api + "contacts(" + adaID + ")?$select=fullname&$expand=parentcustomerid_account($select=name)", wantStatus: 200},
		{name: "retrieve missing", method: "GET", path: api + "contacts(bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb)", wantStatus: 404, wantCode: emulator.CodeRecordNotFound},
		{name: "retrieve bad select", method: "GET", path: api + "contacts(" + newID + ")?$select=Name", wantStatus: 400, wantCode: emulator.CodeUnknownProperty},
		{name: "unknown set", method: "GET", path: api + "Contacts", wantStatus: 404, wantCode: emulator.CodeSegmentNotFound},
		{name: "bad key", method: "GET", path: api + "contacts(abc)", wantStatus: 400, wantCode: emulator.CodeQuerySyntax},
		{name: "patch update", method: "PATCH", path: api + "contacts(" + newID + ")", body: `{"jobtitle":"Admiral"}`, wantStatus: 204,
			wantHeader: map[string]string{"OData-EntityId": srv.URL + api + "contacts(" + newID + ")"}},
		{name: "patch representation", method: "PATCH", path: api + "contacts(" + newID + ")?$select=jobtitle", body: `{"jobtitle":"Rear Admiral"}`,
			headers: []string{"Prefer", "return=representation"}, wantStatus: 200, wantBody: map[string]any{"jobtitle": "Rear Admiral"}},
		{name: "patch upsert creates", method: "PATCH", path: api + "contacts(cccccccc-cccc-4ccc-8ccc-cccccccccccc)", body: `{"firstname":"Up"}`, wantStatus: 204},
		{name: "patch If-Match missing 404", method: "PATCH", path: api + "contacts(dddddddd-dddd-4ddd-8ddd-dddddddddddd)", body: `{"firstname":"No"}`,
			headers: []string{"If-Match", "*"}, wantStatus: 404, wantCode: emulator.CodeRecordNotFound},
		{name: "patch If-Match existing", method: "PATCH", path: api + "contacts(" + newID + ")", body: `{"firstname":"Amazing Grace"}`,
			headers: []string{"If-Match", "*"}, wantStatus: 204},
		{name: "patch If-Match stale etag", method: "PATCH", path: api + "contacts(" + newID + ")", body: `{"firstname":"x"}`,
			headers: []string{"If-Match", `W/"1"`}, wantStatus: 412, wantCode: emulator.CodeVersionMismatch},
		{name: "patch If-None-Match existing 412", method: "PATCH", path: api + "contacts(" + newID + ")", body: `{"firstname":"x"}`,
			headers: []string{"If-None-Match", "*"}, wantStatus: 412, wantCode: emulator.CodeDuplicateKey},
		{name: "patch If-None-Match creates", method: "PATCH", path: api + "contacts(eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee)", body: `{"firstname":"New"}`,
			headers: []string{"If-None-Match", "*"}, wantStatus: 204},
		{name: "collection", method: "GET", path: api + "contacts?$select=fullname&$filter=startswith(firstname,'Amazing')&$top=5", wantStatus: 200},
		{name: "collection bad filter", method: "GET", path: api + "contacts?$filter=firstname%20eq%20'x", wantStatus: 400, wantCode: emulator.CodeQuerySyntax},
		{name: "dup rule suppressed by default", method: "POST", path: api + "contacts", body: `{"emailaddress1":"ada@example.com"}`, wantStatus: 204},
		{name: "dup rule enabled", method: "POST", path: api + "contacts", body: `{"emailaddress1":"ADA@example.com"}`,
			headers: []string{"MSCRM.SuppressDuplicateDetection", "false"}, wantStatus: 500, wantCode: emulator.CodeDuplicateRule},
		{name: "dup rule on patch", method: "PATCH", path: api + "contacts(" + newID + ")", body: `{"emailaddress1":"alan@example.com"}`,
			headers: []string{"MSCRM.SuppressDuplicateDetection", "false"}, wantStatus: 500, wantCode: emulator.CodeDuplicateRule},
		{name: "delete", method: "DELETE", path: api + "contacts(" + alanID + ")", wantStatus: 204},
		{name: "delete missing", method: "DELETE", path: api + "contacts(" + alanID + ")", wantStatus: 404, wantCode: emulator.CodeRecordNotFound},
		{name: "method not allowed", method: "PUT", path: api + "contacts", wantStatus: 405, wantCode: emulator.CodeQuerySyntax},
		{name: "entity definitions", method: "GET", path: api + "EntityDefinitions(LogicalName='phonecall')", wantStatus: 200,
			wantBody: map[string]any{"LogicalName": "phonecall", "EntitySetName": "phonecalls", "PrimaryIdAttribute": "activityid", "PrimaryNameAttribute": "subject"}},
		{name: "entity definitions missing", method: "GET", path: api + "EntityDefinitions(LogicalName='nope')", wantStatus: 404, wantCode: emulator.CodeRecordNotFound},
		{name: "whoami", method: "GET", path: api + "WhoAmI", wantStatus: 200},
		{name: "whoami parens", method: "GET", path: api + "WhoAmI()", wantStatus: 200},
		{name: "action", method: "POST", path: api + "new_Ping", body: `{}`, wantStatus: 200, wantBody: map[string]any{"pong": true}},
		{name: "action no content", method: "POST", path: api + "new_Fire", body: `{}`, wantStatus: 204},
		{name: "function", method: "GET", path: api + "new_GetQueueLength()", wantStatus: 200, wantBody: map[string]any{"length": float64(3)}},
		{name: "action via GET", method: "GET", path: api + "new_Ping", wantStatus: 405, wantCode: emulator.CodeQuerySyntax},
		{name: "unknown operation", method: "POST", path: api + "new_Nope", wantStatus: 404, wantCode: emulator.CodeSegmentNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, tt.body, tt.headers...)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %v)", r.status, tt.wantStatus, r.body)
			}
			if errCode(r) != tt.wantCode {
				t.Fatalf("error code = %q, want %q (body %v)", errCode(r), tt.wantCode, r.body)
			}
			if tt.wantCode != "" {
				if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
					t.Fatalf("error without message: %v", r.body)
				}
			}
			for h, v := range tt.wantHeader {
				if got := r.header.Get(h); got != v {
					t.Errorf("header %s = %q, want %q", h, got, v)
				}
			}
			for k, v := range tt.wantBody {
				if r.body[k] != v {
					t.Errorf("body %s = %v, want %v (body %v)", k, r.body[k], v, r.body)
				}
			}
		})
	}

	// Collection shape and content.
	r := do(t, srv, "GET", api+"contacts?$select=fullname&$filter=firstname%20eq%20'Amazing%20Grace'", "")
	vals, _ := r.body["value"].([]any)
	if len(vals) != 1 || vals[0].(map[string]any)["fullname"] != "Amazing Grace Hopper" || r.body["@odata.context"] != srv.URL+api+"$metadata#contacts(fullname)" {
		t.Fatalf("collection = %v", r.body)
	}
	// Conditional GET.
	r = do(t, srv, "GET", api+"contacts("+newID+")", "")
	etag := r.body["@odata.etag"].(string)
	if r2 := do(t, srv, "GET", api+"contacts("+newID+")", "", "If-None-Match", etag); r2.status != http.StatusNotModified {
		t.Fatalf("conditional GET = %d", r2.status)
	}
	// The Web API face and the CIF path share the store.
	if _, err := call(e, "cif.retrieverecord", map[string]any{"entityName": "contact", "entityId": "cccccccc-cccc-4ccc-8ccc-cccccccccccc"}); err != nil {
		t.Fatalf("upserted record not visible over CIF: %v", err)
	}
}

func TestWebAPIStripPrefix(t *testing.T) {
	e := newSeeded(t)
	srv := httptest.NewServer(http.StripPrefix("/api/data/v9.2", e.WebAPIHandler()))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/api/data/v9.2/contacts(" + adaID + ")?$select=fullname")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status = %d", res.StatusCode)
	}
}

func TestWebAPIFaults(t *testing.T) {
	e := newSeeded(t)
	srv := newWebServer(t, e)
	if err := e.SetFaults(protocol.FaultProfile{Rules: []protocol.FaultRule{
		{Method: "createrecord", Count: 1, Error: &protocol.FaultError{Status: 503, Code: "0x80040216", Message: "busy"}},
		{Method: "search", Drop: true},
	}}); err != nil {
		t.Fatal(err)
	}
	r := do(t, srv, "POST", "/api/data/v9.2/contacts", `{"firstname":"F"}`)
	if r.status != 503 || errCode(r) != "0x80040216" {
		t.Fatalf("faulted create = %d %v", r.status, r.body)
	}
	if r := do(t, srv, "POST", "/api/data/v9.2/contacts", `{"firstname":"F"}`); r.status != 204 {
		t.Fatalf("second create = %d", r.status)
	}
	// A dropped request never answers: it waits until its client gives up
	// (an hour of a synctest bubble's time here, then the client's ctx).
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		rec := httptest.NewRecorder()
		served := make(chan struct{})
		go func() {
			defer close(served)
			e.WebAPIHandler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/api/data/v9.2/contacts", nil))
		}()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case <-served:
			t.Fatalf("dropped request answered %d", rec.Code)
		default:
		}
		cancel()
		<-served
	})
	st := e.Stats()
	if st.Operations["createrecord"] != 1 || st.Dropped != 1 || st.Operations["search"] != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestAdminAPI(t *testing.T) {
	e := newSeeded(t)
	srv := newWebServer(t, e)
	const profile = `{"seed":9,"rules":[{"method":"createrecord","entity":"contact","latencyMs":5,"ratio":1,"count":2}]}`
	if r := do(t, srv, "PUT", emulator.PathFaults, profile); r.status != 200 || r.body["seed"] != float64(9) {
		t.Fatalf("PUT faults = %d %v", r.status, r.body)
	}
	if r := do(t, srv, "GET", emulator.PathFaults, ""); len(r.body["rules"].([]any)) != 1 {
		t.Fatalf("GET faults = %v", r.body)
	}
	adminErrors := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 float64
		wantMsg                  string
	}{
		{"rule breaks a rule", "PUT", emulator.PathFaults, `{"rules":[{"latencyMs":1}]}`, 400, -32602, "rules[0].method is required"},
		{"unknown field", "PUT", emulator.PathFaults, `{"rules":[],"bogus":1}`, 400, -32602, "bogus"},
		{"not JSON", "PUT", emulator.PathFaults, `rules`, 400, -32602, "the fault profile must be JSON like"},
		{"too big", "PUT", emulator.PathFaults, `{"rules":[],"x":"` + strings.Repeat("a", 1<<20) + `"}`, 413, -32602, "larger than"},
		{"wrong method", "DELETE", emulator.PathFaults, "", 405, -32600, "use GET, PUT"},
		{"unknown path", "GET", "/api/v1/emulator/nope", "", 404, -32601, emulator.PathStats},
	}
	for _, tt := range adminErrors {
		r := do(t, srv, tt.method, tt.path, tt.body)
		e, _ := r.body["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if r.status != tt.wantStatus || e["code"] != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
			t.Errorf("%s: %d %v, want %d {code %v, message containing %q}", tt.name, r.status, r.body, tt.wantStatus, tt.wantCode, tt.wantMsg)
		}
	}
	if r := do(t, srv, "DELETE", emulator.PathFaults, ""); r.header.Get("Allow") != "GET, PUT" {
		t.Errorf("405 Allow = %q", r.header.Get("Allow"))
	}
	if _, err := createContact(t.Context(), e, time.Time{}); err != nil {
		t.Fatal(err)
	}
	r := do(t, srv, "GET", emulator.PathStats, "")
	tables := r.body["tables"].(map[string]any)
	ops := r.body["operations"].(map[string]any)
	if tables["contact"].(map[string]any)["records"] != float64(3) || ops["createrecord"] != float64(1) || r.body["lateCompletions"] != float64(0) {
		t.Fatalf("stats = %v", r.body)
	}
	if r := do(t, srv, "POST", emulator.PathReset, ""); r.status != 204 {
		t.Fatalf("reset = %d", r.status)
	}
	st := e.Stats()
	if st.Tables["contact"].Records != 0 || len(st.Operations) != 0 || len(e.Faults().Rules) != 1 {
		t.Fatalf("after reset: %+v, faults %+v", st, e.Faults())
	}
	if r := do(t, srv, "GET", emulator.PathReset, ""); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET reset = %d %v", r.status, r.body)
	}
}
