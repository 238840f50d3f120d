package enreachemu_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/bridge/enreachemu"
	"github.com/cifbridge/cifbridge/protocol"
)

func newEmu(t *testing.T, spec enreachemu.Spec) (*enreachemu.Emulator, *httptest.Server) {
	t.Helper()
	e, err := enreachemu.New(enreachemu.Config{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(enreachemu.AdminPrefix, e.AdminHandler())
	mux.Handle("/", e)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return e, srv
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, auth, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth == "basic" {
		req.SetBasicAuth(enreachemu.DefaultEmail, enreachemu.DefaultSecretKey)
	} else if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b)}
}

// TestRESTFace drives every built-in route over real HTTP: auth, the
// documented paths, unknown paths and wrong methods.
func TestRESTFace(t *testing.T) {
	_, srv := newEmu(t, enreachemu.Spec{})
	u := srv.URL
	wrongSecret := "Basic " + basic(enreachemu.DefaultEmail, "nope")
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		contains                       string
	}{
		{"me without auth", "GET", "/users/me", "", "", 401, "Authorization has been denied"},
		{"me with a wrong secret", "GET", "/users/me", wrongSecret, "", 401, "denied"},
		{"me with an empty bearer", "GET", "/users/me", "Bearer ", "", 401, "denied"},
		{"me basic", "GET", "/users/me", "basic", "", 200, `"Id":"` + enreachemu.DefaultUserID + `"`},
		{"me bearer (any token without a token list)", "GET", "/users/me", "Bearer abc", "", 200, `"OrganizationID":"` + enreachemu.DefaultOrgID + `"`},
		{"user by id", "GET", "/users/" + enreachemu.DefaultUserID, "basic", "", 200, `"Email":"agent@example.com"`},
		{"unknown user", "GET", "/users/nobody", "basic", "", 404, "nobody"},
		{"activate", "POST", "/users/" + enreachemu.DefaultUserID + "/features/cli/activate/", "basic", `{"Number":"+358401234567"}`, 204, ""},
		{"activate without a number", "POST", "/users/" + enreachemu.DefaultUserID + "/features/cli/activate/", "basic", `{"x":1}`, 400, "Number"},
		{"activate with GET", "GET", "/users/" + enreachemu.DefaultUserID + "/features/cli/activate/", "basic", "", 405, "does not support http method 'GET'"},
		{"calls", "GET", "/calls?StartTime=2026-01-01%2000:00:00&EndTime=2026-01-02%2000:00:00", "basic", "", 200, "[]"},
		{"calls bad time", "GET", "/calls?StartTime=yesterday", "basic", "", 400, "yyyy-MM-dd HH:mm:ss"},
		{"calls range too long", "GET", "/calls?StartTime=2026-01-01%2000:00:00&EndTime=2026-03-01%2000:00:00", "basic", "", 400, "31 days"},
		{"servicecall", "GET", "/servicecall", "basic", "", 200, "[]"},
		{"classificationschemas", "GET", "/classificationschemas", "basic", "", 200, "[]"},
		{"authuser", "POST", "/authuser/agent@example.com/", "", `{"UserName":"agent@example.com","Password":"` + enreachemu.DefaultPassword + `"}`, 200, `"SecretKey":"` + enreachemu.DefaultSecretKey + `"`},
		{"authuser wrong password", "POST", "/authuser/agent@example.com/", "", `{"UserName":"agent@example.com","Password":"x"}`, 401, "denied"},
		{"unknown path", "GET", "/no/such/thing", "basic", "", 404, "No HTTP resource was found that matches the request URI '/no/such/thing'"},
		{"unknown path without auth is 401 first", "GET", "/no/such/thing", "", "", 401, "denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, tt.method, u+tt.path, tt.auth, tt.body)
			if a.status != tt.status || !strings.Contains(a.body, tt.contains) {
				t.Fatalf("%s %s: %d %s, want %d containing %q", tt.method, tt.path, a.status, a.body, tt.status, tt.contains)
			}
			if a.status == 401 && a.header.Get("WWW-Authenticate") == "" && !strings.HasPrefix(tt.path, "/authuser") {
				t.Fatal("401 without WWW-Authenticate")
			}
			if a.status >= 400 {
				var m map[string]string
				if json.Unmarshal([]byte(a.body), &m) != nil || m["Message"] == "" {
					t.Fatalf("error body %q is not {\"Message\":…}", a.body)
				}
			}
		})
	}
}

func basic(user, secret string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, secret)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestTokensAndUsers: a listed token maps to its user, an unlisted one is
// refused, a second user's Basic credentials sign in as that user.
func TestTokensAndUsers(t *testing.T) {
	spec, err := enreachemu.ParseSpec([]byte(`{
	  "users":[
	    {"id":"u1","organizationId":"o1","email":"one@example.com","password":"p1","secretKey":"s1"},
	    {"id":"u2","organizationId":"o2","email":"two@example.com","userName":"two","password":"p2","secretKey":"s2"}],
	  "tokens":{"tok-2":"two@example.com"}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, srv := newEmu(t, spec)
	if a := do(t, "GET", srv.URL+"/users/me", "Bearer tok-2", ""); a.status != 200 || !strings.Contains(a.body, `"Id":"u2"`) {
		t.Fatalf("listed token: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/users/me", "Bearer other", ""); a.status != 401 {
		t.Fatalf("unlisted token: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/users/me", "Basic "+basic("two", "s2"), ""); a.status != 200 || !strings.Contains(a.body, `"Id":"u2"`) {
		t.Fatalf("user name login: %d %s", a.status, a.body)
	}
	// u1 may not set the number of a user in another organisation
	if a := do(t, "POST", srv.URL+"/users/u2/features/cli/activate/", "Basic "+basic("one@example.com", "s1"), `{"Number":"123"}`); a.status != 403 {
		t.Fatalf("cross-org activate: %d %s", a.status, a.body)
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{"user":[]}`, "unknown field"},
		{`{"users":[{"id":"a/b","email":"a@example.com","password":"p","secretKey":"s"}]}`, "users[0].id"},
		{`{"users":[{"id":"a","email":"nope","password":"p","secretKey":"s"}]}`, "users[0].email"},
		{`{"users":[{"id":"a","email":"a@example.com","password":"p"}]}`, "secretKey"},
		{`{"tokens":{"t":"ghost@example.com"}}`, "names no user"},
		{`{"responses":[{"method":"GET","path":"calls"}]}`, "responses[0].path"},
		{`{"responses":[{"method":"HEAD","path":"/calls"}]}`, "responses[0].method"},
		{`{"responses":[{"method":"GET","path":"/a*b"}]}`, "only as its last"},
		{`{"faults":{"rules":[{"method":"GET","status":200}]}}`, "rules[0].status"},
		{`{"faults":{"rules":[{"method":"GET","status":503,"drop":true}]}}`, "exclude"},
		{`{"faults":{"rules":[{"method":"GET","latency":{"kind":"weird"}}]}}`, "rules[0].latency.kind"},
		{`{} {}`, "trailing"},
	}
	for _, tt := range tests {
		if _, err := enreachemu.ParseSpec([]byte(tt.json)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %q", tt.json, err, tt.want)
		}
	}
}

// TestCannedAndFaults: canned responses win over built-in routes and need
// auth unless anonymous; fault rules answer errors, count, and the admin
// API replaces both and shows the ground truth.
func TestCannedAndFaults(t *testing.T) {
	spec, err := enreachemu.ParseSpec([]byte(`{
	  "responses":[{"method":"GET","path":"/calls","body":[{"Id":"c1"}]},
	               {"method":"GET","path":"/calls/recordings/*","status":200,"body":{"URL":"https://rec.example.com/x"}},
	               {"method":"GET","path":"/public","anonymous":true,"body":"hi"}],
	  "faults":{"seed":7,"rules":[{"method":"GET","path":"/servicecall","status":503,"count":1}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	e, srv := newEmu(t, spec)
	if a := do(t, "GET", srv.URL+"/calls", "basic", ""); a.status != 200 || a.body != `[{"Id":"c1"}]` {
		t.Fatalf("canned /calls: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/calls/recordings/42", "basic", ""); a.status != 200 || !strings.Contains(a.body, "rec.example.com") {
		t.Fatalf("canned wildcard: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/calls", "", ""); a.status != 401 {
		t.Fatalf("canned without auth: %d", a.status)
	}
	if a := do(t, "GET", srv.URL+"/public", "", ""); a.status != 200 || a.body != `"hi"` {
		t.Fatalf("anonymous canned: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/servicecall", "basic", ""); a.status != 503 || !strings.Contains(a.body, "Service Unavailable") {
		t.Fatalf("fault: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/servicecall", "basic", ""); a.status != 200 {
		t.Fatalf("count 1 used up: %d %s", a.status, a.body)
	}
	st := e.Stats()
	if st.Requests["GET /calls"] != 2 || st.Requests["GET /servicecall"] != 2 || st.InjectedErrors != 1 || st.FaultsApplied != 1 || st.Unauthorized != 1 {
		t.Fatalf("stats %+v", st)
	}

	// admin API
	admin := srv.URL + enreachemu.AdminPrefix
	if a := do(t, "PUT", admin+"faults", "", `{"rules":[{"method":"GET","path":"/users/me","status":429,"body":{"Message":"slow down"}}]}`); a.status != 200 {
		t.Fatalf("PUT faults: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/users/me", "basic", ""); a.status != 429 || a.body != `{"Message":"slow down"}` {
		t.Fatalf("admin fault: %d %s", a.status, a.body)
	}
	if a := do(t, "PUT", admin+"faults", "", `{"rules":[{"method":"FETCH"}]}`); a.status != 400 || !strings.Contains(a.body, "rules[0].method") {
		t.Fatalf("bad fault: %d %s", a.status, a.body)
	}
	if a := do(t, "PUT", admin+"responses", "", `[{"method":"GET","path":"/users/me","status":500}]`); a.status != 200 {
		t.Fatalf("PUT responses: %d %s", a.status, a.body)
	}
	if a := do(t, "PUT", admin+"faults", "", `{"rules":[]}`); a.status != 200 {
		t.Fatal(a.body)
	}
	if a := do(t, "GET", srv.URL+"/users/me", "basic", ""); a.status != 500 {
		t.Fatalf("canned via admin: %d %s", a.status, a.body)
	}
	if a := do(t, "DELETE", admin+"stats", "", ""); a.status != 405 || a.header.Get("Allow") != "GET" {
		t.Fatalf("405: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", admin+"nope", "", ""); a.status != 404 || !strings.Contains(a.body, "-32601") {
		t.Fatalf("404: %d %s", a.status, a.body)
	}
	if a := do(t, "POST", admin+"reset", "", ""); a.status != 204 {
		t.Fatal(a.status)
	}
	var got enreachemu.Stats
	if a := do(t, "GET", admin+"stats", "", ""); a.status != 200 || json.Unmarshal([]byte(a.body), &got) != nil || len(got.Requests) != 0 {
		t.Fatalf("stats after reset: %d %s", a.status, a.body)
	}
}

// TestThroughClient runs the daemon's Enreach client against the emulator
// in-process (Transport): executeQuery, setANumber and the A-number in the
// stats; a latency fault past the client's timeout and a drop.
func TestThroughClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := enreachemu.New(enreachemu.Config{})
		if err != nil {
			t.Fatal(err)
		}
		user, secret := e.Credentials()
		c, err := enreach.New(enreach.Config{BaseURL: "http://emu.invalid", User: user, Secret: secret, Timeout: 2 * time.Second,
			HTTPClient: &http.Client{Transport: e.Transport()}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		res, err := c.ExecuteQuery(ctx, "", json.RawMessage(`{"query":"/users/me"}`))
		if err != nil || !strings.Contains(string(res), enreachemu.DefaultUserID) {
			t.Fatalf("executeQuery: %s %v", res, err)
		}
		if res, err = c.SetANumber(ctx, "", json.RawMessage(`{"aNumber":"+358401234567"}`)); err != nil || string(res) != "null" {
			t.Fatalf("setANumber: %s %v", res, err)
		}
		st := e.Stats()
		if n := st.NextCallANumbers[enreachemu.DefaultUserID]; n.Number != "+358401234567" {
			t.Fatalf("a-number %+v", st.NextCallANumbers)
		}
		if st.Requests["GET /users/me"] != 2 || st.Requests["POST /users/{userId}/features/cli/activate/"] != 1 {
			t.Fatalf("requests %v", st.Requests)
		}
		_, err = c.ExecuteQuery(ctx, "", json.RawMessage(`{"query":"/nowhere"}`))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeUpstream || !strings.Contains(pe.Message, "404") {
			t.Fatalf("unknown path: %v", err)
		}
		if err := e.SetFaults(enreachemu.FaultProfile{Rules: []enreachemu.FaultRule{
			{Method: "GET", Path: "/calls", LatencyMs: 5000, Count: 1},
			{Method: "GET", Path: "/servicecall", Drop: true},
		}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = c.ExecuteQuery(ctx, "", json.RawMessage(`{"query":"/calls"}`))
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "did not answer within 2s") || time.Since(start) != 2*time.Second {
			t.Fatalf("latency fault: %v after %v", err, time.Since(start))
		}
		_, err = c.ExecuteQuery(ctx, "", json.RawMessage(`{"query":"/servicecall"}`))
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "did not answer") {
			t.Fatalf("drop: %v", err)
		}
		if st := e.Stats(); st.Delayed != 1 || st.Dropped != 1 || st.FaultsApplied != 2 {
			t.Fatalf("fault stats %+v", st)
		}
	})
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`{"users":[{"id":"u","email":"a@example.com","password":"p","secretKey":"s"}],"tokens":{"t":"a@example.com"}}`))
	f.Add([]byte(`{"responses":[{"method":"GET","path":"/calls*","body":[]}],"faults":{"rules":[{"method":"*","path":"/users/*","status":503}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := enreachemu.ParseSpec(b)
		if err != nil {
			return
		}
		e, err := enreachemu.New(enreachemu.Config{Spec: s})
		if err != nil {
			t.Fatalf("ParseSpec accepted what New refuses: %v", err)
		}
		if s.Faults != nil && len(s.Faults.Rules) > 0 {
			return // a drop or latency rule would wait for a context that never ends
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "/users/me", nil))
		if rec.Code == 0 {
			t.Fatal("no answer")
		}
	})
}

// TestNextCallANumber: setANumber's number shows on the user's next call
// only; GET /calls lists the calls placed through the admin API.
func TestNextCallANumber(t *testing.T) {
	e, srv := newEmu(t, enreachemu.Spec{})
	admin := srv.URL + enreachemu.AdminPrefix
	me := "/users/" + enreachemu.DefaultUserID + "/features/cli/activate/"
	if a := do(t, "POST", srv.URL+me, "basic", `{"Number":"+358401234567"}`); a.status != 204 {
		t.Fatal(a.status)
	}
	first := do(t, "POST", admin+"calls", "", `{"to":"+358501111111"}`)
	second := do(t, "POST", admin+"calls", "", `{"to":"+358502222222"}`)
	var c1, c2 enreachemu.Call
	if first.status != 201 || json.Unmarshal([]byte(first.body), &c1) != nil || c1.ANumber != "+358401234567" || c1.UserID != enreachemu.DefaultUserID {
		t.Fatalf("first call: %d %s", first.status, first.body)
	}
	if second.status != 201 || json.Unmarshal([]byte(second.body), &c2) != nil || c2.ANumber != "" {
		t.Fatalf("second call: the A-number is for the next call only: %s", second.body)
	}
	if st := e.Stats(); len(st.NextCallANumbers) != 0 {
		t.Fatalf("the A-number stayed: %+v", st.NextCallANumbers)
	}
	a := do(t, "GET", srv.URL+"/calls?UserIDs="+enreachemu.DefaultUserID, "basic", "")
	var calls []enreachemu.Call
	if a.status != 200 || json.Unmarshal([]byte(a.body), &calls) != nil || len(calls) != 2 || calls[0].BNumber != "+358501111111" {
		t.Fatalf("GET /calls: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", srv.URL+"/calls?UserIDs=someone-else", "basic", ""); a.body != "[]" {
		t.Fatalf("other user's calls: %s", a.body)
	}
	if a := do(t, "POST", admin+"calls", "", `{"to":""}`); a.status != 400 || !strings.Contains(a.body, "called number") {
		t.Fatalf("no number: %d %s", a.status, a.body)
	}
	if a := do(t, "POST", admin+"calls", "", `{"to":"1","userId":"ghost"}`); a.status != 400 || !strings.Contains(a.body, "ghost") {
		t.Fatalf("unknown user: %d %s", a.status, a.body)
	}
}
