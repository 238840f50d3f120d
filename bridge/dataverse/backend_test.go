package dataverse_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/dataverse"
	"github.com/cifbridge/cifbridge/bridge/retry"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

const (
	adaID   = "11111111-1111-4111-8111-111111111111"
	otherID = "22222222-2222-4222-8222-222222222222"
)

func TestRecordRoundTrip(t *testing.T) {
	f := newFixture(t, nil)

	var created protocol.CreateResult
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "contact",
		"value": map[string]any{"firstname": "Ada", "lastname": "Lovelace", "telephone1": "+358401234567"}}, &created)
	if created.EntityType != "contact" || len(created.ID) != 36 {
		t.Fatalf("create result %+v", created)
	}
	post := f.org.last()
	if post.Method != http.MethodPost || !strings.HasSuffix(post.Path, "/api/data/v9.2/contacts") ||
		post.Header.Get("Prefer") != "return=representation" || post.Header.Get("OData-Version") != "4.0" {
		t.Fatalf("create request %+v", post)
	}
	if post.Header.Get("MSCRM.SuppressDuplicateDetection") != "" {
		t.Fatal("duplicate detection header sent although not configured")
	}

	var rec map[string]any
	f.ok(protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": created.ID, "queryParameters": "?$select=fullname,telephone1"}, &rec)
	if rec["fullname"] != "Ada Lovelace" || rec["contactid"] != created.ID || rec["telephone1"] != "+358401234567" {
		t.Fatalf("retrieve %v", rec)
	}
	if _, ok := rec["@odata.context"]; ok {
		t.Fatal("retrieve kept @odata.context")
	}

	var upd protocol.CreateResult
	f.ok(protocol.MethodUpdateRecord, map[string]any{"entityName": "contact", "entityId": created.ID, "value": `{"jobtitle":"Countess"}`}, &upd)
	if upd != created {
		t.Fatalf("update result %+v, want %+v", upd, created)
	}
	if h := f.org.last().Header.Get("If-Match"); h != "*" {
		t.Fatalf("update If-Match %q, want *", h)
	}

	// search with a phone number: the "+" must survive as a plus, spaces are escaped
	var hits map[string]map[string]any
	f.ok(protocol.MethodSearch, map[string]any{"entityName": "contact",
		"queryParameters": "?$select=fullname,jobtitle&$filter=telephone1 eq '+358401234567'&$top=5"}, &hits)
	if len(hits) != 1 || hits["0"]["jobtitle"] != "Countess" {
		t.Fatalf("search %v", hits)
	}
	var none map[string]any
	f.ok(protocol.MethodSearchAndOpenRecords, map[string]any{"entityName": "contact", "queryParameters": "?$filter=lastname eq 'Nobody'"}, &none)
	if len(none) != 0 {
		t.Fatalf("search for nobody %v", none)
	}

	var del protocol.CreateResult
	f.ok(protocol.MethodDeleteRecord, map[string]any{"entityName": "contact", "entityId": created.ID}, &del)
	if del != created {
		t.Fatalf("delete result %+v", del)
	}

	_, err := f.call("s1", protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": created.ID})
	d := backendErr(t, err, http.StatusNotFound, "0x80040217")
	if !strings.Contains(d.ErrorMsg, "Does Not Exist") || d.Value.SourceFunc != "client.retrieveRecord - Xrm.WebApi.retrieveRecord" {
		t.Fatalf("404 data %+v", d)
	}
	// an update of the deleted record (a retry) must not resurrect it
	_, err = f.call("s1", protocol.MethodUpdateRecord, map[string]any{"entityName": "contact", "entityId": created.ID, "value": map[string]any{"jobtitle": "Ghost"}})
	backendErr(t, err, http.StatusNotFound, "0x80040217")
	_, err = f.call("s1", protocol.MethodDeleteRecord, map[string]any{"entityName": "contact", "entityId": created.ID})
	backendErr(t, err, http.StatusNotFound, "0x80040217")
	if st := f.org.emu.Stats(); st.Tables["contact"].Records != 0 {
		t.Fatalf("contact records %d after delete and update, want 0", st.Tables["contact"].Records)
	}

	if n := f.org.count(http.MethodGet, "EntityDefinitions(LogicalName='contact')"); n != 1 {
		t.Fatalf("EntityDefinitions fetched %d times, want 1 (cached)", n)
	}
	if n := f.ts.requests.Load(); n != 1 {
		t.Fatalf("%d token requests, want 1 (cached)", n)
	}
}

func TestPrimaryKeyFromMetadata(t *testing.T) {
	f := newFixture(t, nil)
	var pc protocol.CreateResult
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{"subject": "Inbound call"}}, &pc)
	if pc.EntityType != "phonecall" || pc.ID == "" {
		t.Fatalf("phonecall create %+v", pc)
	}
	if !strings.HasSuffix(f.org.last().Path, "/phonecalls") || f.org.last().Query != "$select=activityid" {
		t.Fatalf("phonecall create went to %+v", f.org.last())
	}
	var rec map[string]any
	f.ok(protocol.MethodRetrieveRecord, map[string]any{"entityName": "phonecall", "entityId": pc.ID, "queryParameters": "?$select=subject"}, &rec)
	if rec["activityid"] != pc.ID || rec["subject"] != "Inbound call" {
		t.Fatalf("phonecall %v", rec)
	}
	_, err := f.call("s1", protocol.MethodCreateRecord, map[string]any{"entityName": "nosuchentity", "value": map[string]any{}})
	backendErr(t, err, http.StatusNotFound, "0x80040217")
}

func TestErrorsKeepCodeAndStatus(t *testing.T) {
	f := newFixture(t, func(c *dataverse.Config) { c.DuplicateDetection = true })
	create := func(v map[string]any) error {
		_, err := f.call("s1", protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": v})
		return err
	}
	if err := create(map[string]any{"contactid": adaID, "firstname": "Ada", "emailaddress1": "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	if f.org.last().Header.Get("MSCRM.SuppressDuplicateDetection") != "false" {
		t.Fatal("DuplicateDetection did not send MSCRM.SuppressDuplicateDetection: false")
	}
	t.Run("412 duplicate key", func(t *testing.T) {
		d := backendErr(t, create(map[string]any{"contactid": adaID, "firstname": "Again"}), http.StatusPreconditionFailed, "0x80040237")
		if d.ErrorMsg != "A record with matching key values already exists." {
			t.Fatalf("message %q", d.ErrorMsg)
		}
	})
	t.Run("500 duplicate rule", func(t *testing.T) {
		backendErr(t, create(map[string]any{"firstname": "Twin", "emailaddress1": "ADA@example.com"}), http.StatusInternalServerError, "0x80040333")
	})
	t.Run("404 missing", func(t *testing.T) {
		_, err := f.call("s1", protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": otherID})
		backendErr(t, err, http.StatusNotFound, "0x80040217")
	})
	t.Run("400 bad select", func(t *testing.T) {
		_, err := f.call("s1", protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": adaID, "queryParameters": "?$select=Name"})
		backendErr(t, err, http.StatusBadRequest, "0x0")
	})
}

func TestDuplicateDetectionOffByDefault(t *testing.T) {
	f := newFixture(t, nil)
	for range 2 {
		if _, err := f.call("s1", protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"emailaddress1": "same@example.com"}}); err != nil {
			t.Fatalf("create with duplicate detection suppressed: %v", err)
		}
	}
}

func TestInvalidParamsNeverReachTheOrg(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		method string
		params map[string]any
	}{
		{"id escapes the path", protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": adaID + ")/../accounts("}},
		{"id not a guid", protocol.MethodDeleteRecord, map[string]any{"entityName": "contact", "entityId": "abc"}},
		{"entity with a quote", protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact')/x", "entityId": adaID}},
		{"entity with a slash", protocol.MethodSearch, map[string]any{"entityName": "contacts/../x"}},
		{"operation name with a path", protocol.BackendExecute, map[string]any{"metaData": map[string]any{"operationType": 0, "operationName": "../new_Ping"}}},
		{"bad operation type", protocol.BackendExecute, map[string]any{"metaData": map[string]any{"operationType": 7, "operationName": "WhoAmI"}}},
		{"bad setmode", protocol.MethodSetMode, map[string]any{"value": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.call("s1", tt.method, tt.params)
			testutil.WantCode(t, err, protocol.CodeInvalidParams)
		})
	}
	if n := f.org.count("", ""); n != 0 {
		t.Fatalf("%d requests reached the org", n)
	}
	_, err := f.call("s1", "cif.createSession", map[string]any{})
	testutil.WantCode(t, err, protocol.CodeMethodNotFound)
}

func TestExecute(t *testing.T) {
	f := newFixture(t, nil)
	exec := func(opType int, name string, data any, out any) {
		t.Helper()
		f.ok(protocol.BackendExecute, map[string]any{"data": data, "metaData": map[string]any{"operationType": opType, "operationName": name}}, out)
	}
	var who map[string]any
	exec(1, "WhoAmI", nil, &who)
	if s, _ := who["UserId"].(string); len(s) != 36 {
		t.Fatalf("WhoAmI %v", who)
	}
	if _, ok := who["@odata.context"]; ok {
		t.Fatal("WhoAmI kept @odata.context")
	}
	if r := f.org.last(); r.Method != http.MethodGet || !strings.HasSuffix(r.Path, "/WhoAmI()") {
		t.Fatalf("function request %+v", r)
	}
	var pong map[string]any
	exec(0, "new_Ping", map[string]any{"Text": "hi"}, &pong)
	if pong["pong"] != true || f.org.last().Method != http.MethodPost || !strings.HasSuffix(f.org.last().Path, "/new_Ping") {
		t.Fatalf("action new_Ping %v via %+v", pong, f.org.last())
	}
	var ql map[string]any
	exec(1, "new_GetQueueLength", map[string]any{"Queue": "o'brien"}, &ql)
	if ql["length"] != float64(3) {
		t.Fatalf("function %v", ql)
	}
	if r := f.org.last(); !strings.HasSuffix(r.Path, "/new_GetQueueLength(Queue=@Queue)") || r.Query != "@Queue=%27o%27%27brien%27" {
		t.Fatalf("function parameters %+v", r)
	}
	if res := f.ok(protocol.BackendExecute, map[string]any{"metaData": map[string]any{"operationType": 0, "operationName": "new_Fire"}}, nil); string(res) != "null" {
		t.Fatalf("204 action answered %s, want null", res)
	}

	var c protocol.CreateResult
	exec(2, "Create", map[string]any{"etn": "account", "payload": map[string]any{"name": "Contoso"}}, &c)
	if c.EntityType != "account" || c.ID == "" {
		t.Fatalf("CRUD create %+v", c)
	}
	var acc map[string]any
	exec(2, "Retrieve", map[string]any{"entityReference": map[string]any{"entityType": "account", "id": c.ID}, "columns": []string{"name"}}, &acc)
	if acc["name"] != "Contoso" {
		t.Fatalf("CRUD retrieve %v", acc)
	}
	exec(2, "Update", map[string]any{"etn": "account", "id": c.ID, "payload": map[string]any{"name": "Fabrikam"}}, nil)
	exec(2, "Delete", map[string]any{"entityReference": map[string]any{"entityType": "account", "id": c.ID}}, nil)
	_, err := f.call("s1", protocol.BackendExecute, map[string]any{"data": map[string]any{"etn": "account", "id": c.ID},
		"metaData": map[string]any{"operationType": 2, "operationName": "Retrieve"}})
	backendErr(t, err, http.StatusNotFound, "0x80040217")

	_, err = f.call("s1", protocol.BackendExecute, map[string]any{"metaData": map[string]any{"operationType": 0, "operationName": "new_Missing"}})
	backendErr(t, err, http.StatusNotFound, "0x8006088a")
}

func TestEnvironmentAndMetadata(t *testing.T) {
	f := newFixture(t, nil)
	var env map[string]any
	f.ok(protocol.MethodGetEnvironment, map[string]any{}, &env)
	var who map[string]any
	f.ok(protocol.BackendExecute, map[string]any{"metaData": map[string]any{"operationType": 1, "operationName": "WhoAmI"}}, &who)
	if env["userId"] != who["UserId"] || env["orgId"] != who["OrganizationId"] || env["clientUrl"] != f.org.URL {
		t.Fatalf("environment %v vs WhoAmI %v", env, who)
	}
	f.ok(protocol.MethodGetEnvironment, map[string]any{}, nil)
	if n := f.org.count(http.MethodGet, "/WhoAmI") + f.org.count(http.MethodGet, "/WhoAmI()"); n != 2 { // one for getenvironment (then cached), one for execute
		t.Fatalf("WhoAmI called %d times, want 2", n)
	}

	var md map[string]any
	f.ok(protocol.MethodGetEntityMetadata, map[string]any{"entityName": "phonecall", "attributes": []string{"subject"}}, &md)
	if md["EntitySetName"] != "phonecalls" || md["PrimaryIdAttribute"] != "activityid" {
		t.Fatalf("metadata %v", md)
	}
	if _, ok := md["Attributes"].([]any); !ok {
		t.Fatalf("metadata has no Attributes list: %v", md)
	}
	// the definition is cached: a create does not fetch it again
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{"subject": "x"}}, nil)
	if n := f.org.count(http.MethodGet, "EntityDefinitions(LogicalName='phonecall')"); n != 1 {
		t.Fatalf("EntityDefinitions fetched %d times, want 1", n)
	}
}

func TestPanelStatePerSession(t *testing.T) {
	f := newFixture(t, nil)
	get := func(session, method string) string {
		t.Helper()
		res, err := f.call(session, method, map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		return string(res)
	}
	if get("a", protocol.MethodGetClickToAct) != "true" || get("a", protocol.MethodGetMode) != "1" || get("a", protocol.MethodGetWidth) != "320" {
		t.Fatal("defaults differ from the emulator's")
	}
	for m, v := range map[string]any{protocol.MethodSetClickToAct: false, protocol.MethodSetMode: 2, protocol.MethodSetWidth: 500} {
		if res, err := f.call("a", m, map[string]any{"value": v}); err != nil || string(res) != "null" {
			t.Fatalf("%s: %s %v", m, res, err)
		}
	}
	if get("a", protocol.MethodGetClickToAct) != "false" || get("a", protocol.MethodGetMode) != "2" || get("a", protocol.MethodGetWidth) != "500" {
		t.Fatal("session a lost its state")
	}
	if get("b", protocol.MethodGetMode) != "1" {
		t.Fatal("session b sees session a's state")
	}
	if n := f.org.count("", ""); n != 0 {
		t.Fatalf("panel calls made %d requests", n)
	}
}

func TestExpiredTokenRefreshedOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.ok(protocol.MethodGetClickToAct, map[string]any{}, nil)
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "A"}}, nil)
	if n := f.ts.requests.Load(); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
	f.org.revoke("tok-1") // the org now considers the cached token expired
	var c protocol.CreateResult
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "B"}}, &c)
	if n := f.ts.requests.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one refresh)", n)
	}
	if st := f.org.emu.Stats(); st.Tables["contact"].Records != 2 {
		t.Fatalf("%d contacts, want 2 (the 401 create did not run, its retry did)", st.Tables["contact"].Records)
	}
	f.ok(protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": c.ID}, nil)
	if n := f.ts.requests.Load(); n != 2 {
		t.Fatalf("%d token requests after the refresh, want 2 (the new token is cached)", n)
	}
}

func TestShortLivedTokens(t *testing.T) {
	f := newFixture(t, nil)
	f.ts.expires = 1 // below oauth2's 10 s early-expiry margin: every call needs a new token
	for range 3 {
		f.ok(protocol.MethodGetEnvironment, map[string]any{}, nil)
		f.ok(protocol.MethodSearch, map[string]any{"entityName": "account"}, nil)
	}
	if n := f.ts.requests.Load(); n < 2 {
		t.Fatalf("%d token requests, want a refresh of the expired token", n)
	}
}

func TestPersistent401IsRetriedOnlyOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.org.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	_, err := f.call("s1", protocol.MethodSearch, map[string]any{"entityName": "contact"})
	backendErr(t, err, http.StatusUnauthorized, "")
	if n := f.org.count("", ""); n != 2 {
		t.Fatalf("%d requests, want 2 (the first and one retry with a new token)", n)
	}
	if n := f.ts.requests.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

func TestBadClientSecret(t *testing.T) {
	f := newFixture(t, func(c *dataverse.Config) { c.ClientSecret = "wrong-secret-value" })
	_, err := f.call("s1", protocol.MethodSearch, map[string]any{"entityName": "contact"})
	d := backendErr(t, err, http.StatusUnauthorized, "invalid_client")
	if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(f.log.String(), "wrong-secret-value") {
		t.Fatal("the secret leaked into the error or the log")
	}
	if !strings.Contains(d.ErrorMsg, "authentication failed") {
		t.Fatalf("message %q", d.ErrorMsg)
	}
}

// httpDateIn3s stands for a Retry-After HTTP date three seconds after the
// org answers.
const httpDateIn3s = "<http date in 3 s>"

func TestRetryAfter(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantMs     int64
	}{
		{"429 seconds", http.StatusTooManyRequests, "2", 2000},
		{"503 fraction", http.StatusServiceUnavailable, "0.25", 250},
		{"429 http date", http.StatusTooManyRequests, httpDateIn3s, 3000},
		{"429 without header", http.StatusTooManyRequests, "", 0},
		{"500 ignores it", http.StatusInternalServerError, "5", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.org.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "EntityDefinitions") {
					return false
				}
				switch tt.retryAfter {
				case "":
				case httpDateIn3s: // made when the org answers, so a slow test run does not eat into it
					w.Header().Set("Retry-After", time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
				default:
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`))
				return true
			})
			_, err := f.call("s1", protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "x"}})
			d := backendErr(t, err, tt.status, "0x80072322")
			// an HTTP date has one-second resolution
			if d.RetryAfterMs < tt.wantMs-1000 || d.RetryAfterMs > tt.wantMs || (tt.wantMs == 0) != (d.RetryAfterMs == 0) {
				t.Fatalf("retryAfterMs %d, want about %d", d.RetryAfterMs, tt.wantMs)
			}
		})
	}
}

func TestTimeoutAndUnreachable(t *testing.T) {
	// An org that never answers a create: the backend gives up at exactly
	// its HTTPTimeout (the default 8 s, in a synctest bubble's time).
	synctest.Test(t, func(t *testing.T) {
		f := newPipeFixture(t, nil)
		f.org.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPost {
				return false
			}
			_, _ = io.Copy(io.Discard, r.Body) // the server notices a gone client only once the body is read
			<-r.Context().Done()
			return true
		})
		start := time.Now()
		_, err := f.call("s1", protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "slow"}})
		// The backend's own HTTP timeout is a backend failure with an unknown
		// outcome (-32001, 504, timeoutMs), not the CIF timeout -32000 (issue
		// 13 item 11): no late answer will follow it.
		pe := testutil.WantCode(t, err, protocol.CodeBackend)
		if got := time.Since(start); got != dataverse.DefaultHTTPTimeout {
			t.Errorf("the create failed after %v, want exactly %v", got, dataverse.DefaultHTTPTimeout)
		}
		var d protocol.BackendErrorData
		if json.Unmarshal(pe.Data, &d); d.TimeoutMs != dataverse.DefaultHTTPTimeout.Milliseconds() || d.HTTPStatus != protocol.UpstreamTimeoutStatus || !strings.Contains(pe.Message, "--dataverse-timeout") {
			t.Fatalf("error %s data %s", pe.Message, pe.Data)
		}
		if !retry.Retryable(err) {
			t.Fatal("the retry engine would not retry an upstream timeout")
		}
	})

	dead := newFixture(t, nil)
	dead.org.Close()
	_, err := dead.call("s1", protocol.MethodSearch, map[string]any{"entityName": "contact"})
	if pe := protocol.AsError(err); pe.Code != protocol.CodeNoBackend && pe.Code != protocol.CodeBackend {
		t.Fatalf("unreachable org: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	base := dataverse.Config{URL: "https://contoso.crm4.dynamics.com", TenantID: "t", ClientID: "c", ClientSecret: "the-client-secret"}
	tests := []struct {
		name string
		edit func(*dataverse.Config)
		want string
	}{
		{"ok", func(*dataverse.Config) {}, ""},
		{"no url", func(c *dataverse.Config) { c.URL = "" }, "URL is required"},
		{"relative url", func(c *dataverse.Config) { c.URL = "contoso.crm.dynamics.com" }, "absolute"},
		{"api url", func(c *dataverse.Config) { c.URL = "https://x.crm.dynamics.com/api/data/v9.2" }, "without"},
		{"no tenant", func(c *dataverse.Config) { c.TenantID = "" }, "TenantID"},
		{"token url instead of tenant", func(c *dataverse.Config) { c.TenantID, c.TokenURL = "", "http://127.0.0.1:1/token" }, ""},
		{"no client id", func(c *dataverse.Config) { c.ClientID = "" }, "ClientID"},
		{"no secret", func(c *dataverse.Config) { c.ClientSecret = "" }, "ClientSecret"},
		{"negative timeout", func(c *dataverse.Config) { c.HTTPTimeout = -1 }, "HTTPTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.edit(&c)
			_, err := dataverse.New(c)
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), c.ClientSecret) && c.ClientSecret != "" {
				t.Fatal("the error holds the secret")
			}
		})
	}
}
