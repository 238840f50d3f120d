package enreach_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestExecuteQueryMethodRules(t *testing.T) {
	u := newUpstream(t)
	c, _ := newClient(t, u, nil)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	tests := []struct {
		name       string
		params     map[string]any
		wantMethod string
		wantPath   string
		wantQuery  string
		wantBody   string
	}{
		{"no postData is GET", map[string]any{"query": "/calls"}, "GET", "/api/calls", "", ""},
		{"null postData is GET", map[string]any{"query": "calls", "postData": nil}, "GET", "/api/calls", "", ""},
		{"postData is POST", map[string]any{"query": "/classificationschemas", "postData": map[string]any{"a": 1}}, "POST", "/api/classificationschemas", "", `{"a":1}`},
		{"method overrides", map[string]any{"query": "/users/me/x", "postData": map[string]any{"b": 2}, "method": "put"}, "PUT", "/api/users/me/x", "", `{"b":2}`},
		{"DELETE without body", map[string]any{"query": "/calls/1", "method": "DELETE"}, "DELETE", "/api/calls/1", "", ""},
		{"query string kept", map[string]any{"query": "/calls?StartTime=2024-01-01%2000:00:00&UserIDs=a,b"}, "GET", "/api/calls", "StartTime=2024-01-01%2000:00:00&UserIDs=a,b", ""},
		{"spaces escaped", map[string]any{"query": "/queues/Sales Team"}, "GET", "/api/queues/Sales%20Team", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, tt.params))
			if err != nil {
				t.Fatal(err)
			}
			r := u.last()
			if r.Method != tt.wantMethod || r.Path != tt.wantPath || r.Query != tt.wantQuery || r.Body != tt.wantBody {
				t.Fatalf("upstream saw %+v", r)
			}
			if r.Auth != basic || r.Accept != "application/json" || (tt.wantBody != "") != (r.ContentType == "application/json") {
				t.Fatalf("headers %+v", r)
			}
			var got map[string]any
			if err := json.Unmarshal(res, &got); err != nil || got["method"] != tt.wantMethod {
				t.Fatalf("result %s: %v", res, err)
			}
		})
	}
}

func TestExecuteQueryResults(t *testing.T) {
	u := newUpstream(t)
	c, _ := newClient(t, u, func(c *enreach.Config) { c.MaxResponseBytes = 1024 })
	res, err := c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": "/text"}))
	if err != nil || string(res) != `"plain text answer"` {
		t.Fatalf("text answer %s %v", res, err)
	}
	_, err = c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": "/big"}))
	if pe := wantCode(t, err, protocol.CodeUpstream); !strings.Contains(pe.Message, "larger than 1024") {
		t.Fatalf("size limit: %v", pe)
	}
}

func TestUpstreamErrors(t *testing.T) {
	u := newUpstream(t)
	c, _ := newClient(t, u, nil)
	data := func(pe *protocol.Error) (d struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	}) {
		if err := json.Unmarshal(pe.Data, &d); err != nil {
			t.Fatalf("data %s: %v", pe.Data, err)
		}
		return d
	}

	_, err := c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": "/fail"}))
	d := data(wantCode(t, err, protocol.CodeUpstream))
	var body string
	if d.Status != 500 || json.Unmarshal(d.Body, &body) != nil || !strings.HasPrefix(body, "boom boom") || len(body) > 2100 {
		t.Fatalf("500 data: status %d body %d bytes", d.Status, len(d.Body))
	}

	_, err = c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": "/notfound"}))
	if d := data(wantCode(t, err, protocol.CodeUpstream)); d.Status != 404 || string(d.Body) != `{"Message":"No such user"}` {
		t.Fatalf("404 data %+v", d)
	}

	// an upstream echoing the credentials must not carry them into the error
	_, err = c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": "/echo-auth"}))
	wantCode(t, err, protocol.CodeUpstream)
	_, err = c.ExecuteQuery(t.Context(), session, testutil.MustJSON(t, map[string]any{"query": "/echo-auth"}))
	if pe := wantCode(t, err, protocol.CodeUpstream); !strings.Contains(string(pe.Data), "[redacted]") {
		t.Fatalf("echoed token not redacted: %s", pe.Data)
	}

	dead := newUpstream(t)
	dc, _ := newClient(t, dead, nil)
	dead.Close()
	_, err = dc.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": "/calls"}))
	if pe := wantCode(t, err, protocol.CodeUpstream); data(pe).Status != 0 || !strings.Contains(pe.Message, "unreachable") {
		t.Fatalf("unreachable: %v", pe)
	}
}

// TestUpstreamTimeout: an upstream that never answers fails the call at
// exactly Config.Timeout with a message naming it, not a status. The
// upstream sits on in-memory pipes in a synctest bubble, so the 8 s default
// passes instantly.
func TestUpstreamTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln, hc := testutil.ServePipe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		c, err := enreach.New(enreach.Config{BaseURL: "http://" + ln.Addr().String() + "/api/", User: user, Secret: secret, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": "/slow"}))
		pe := wantCode(t, err, protocol.CodeUpstream)
		var d struct{ Status int }
		if json.Unmarshal(pe.Data, &d) != nil || d.Status != 0 || !strings.Contains(pe.Message, "did not answer within 8s") {
			t.Fatalf("timeout: %v", pe)
		}
		if got := time.Since(start); got != enreach.DefaultTimeout {
			t.Errorf("failed after %v, want exactly %v", got, enreach.DefaultTimeout)
		}
	})
}

func TestPathEscapesRefused(t *testing.T) {
	u := newUpstream(t)
	c, _ := newClient(t, u, nil)
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"scheme", "http://evil", "scheme"},
		{"other scheme", "javascript:alert(1)", "scheme"},
		{"host", "//evil", "host"},
		{"host with path", "//evil/users/me", "host"},
		{"dot dot", "../x", ".."},
		{"dot dot inside", "a/../../b", ".."},
		{"leading slash dot dot", "/users/../../admin", ".."},
		{"escaped dot dot", "%2e%2e/x", ".."},
		{"escaped slash", "/%2fevil", "//"},
		{"CRLF", "x\r\nHost: y", "control"},
		{"LF", "users\nme", "control"},
		{"NUL", "users\x00me", "control"},
		{"backslash", `\\evil\x`, "backslash"},
		{"fragment", "/users/me#x", "fragment"},
		{"blank", "  ", "blank"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": tt.query}))
			pe := wantCode(t, err, protocol.CodeInvalidParams)
			if !strings.Contains(pe.Message, tt.want) || !strings.Contains(pe.Message, "query") {
				t.Fatalf("message %q does not name %q", pe.Message, tt.want)
			}
		})
	}
	bad := []map[string]any{
		{"query": "/calls", "method": "TRACE"},
		{"query": "/calls", "method": "CONNECT"},
		{"query": "/calls", "method": "GET", "postData": map[string]any{"a": 1}},
		{"query": "/calls", "unknown": 1},
		{"query": 5},
	}
	for _, p := range bad {
		_, err := c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, p))
		wantCode(t, err, protocol.CodeInvalidParams)
	}
	if n := len(u.requests()); n != 0 {
		t.Fatalf("%d refused queries reached the upstream: %+v", n, u.requests())
	}
}

// TestQuerySpacesEscaped: a raw space in the query string reaches the
// upstream percent-encoded, never splitting its request line (issue 13
// item 11); the upstream decodes the value the widget meant.
func TestQuerySpacesEscaped(t *testing.T) {
	u := newUpstream(t)
	c, _ := newClient(t, u, nil)
	if _, err := c.ExecuteQuery(t.Context(), "", testutil.MustJSON(t, map[string]any{"query": `/users/me?name=Aino Virtanen&q="x"<y>&city=Hämeenlinna&ok=a%20b`})); err != nil {
		t.Fatal(err)
	}
	got := u.last().Query
	if want := `name=Aino%20Virtanen&q=%22x%22%3Cy%3E&city=H%C3%A4meenlinna&ok=a%20b`; got != want {
		t.Fatalf("upstream query %q, want %q", got, want)
	}
	v, _ := url.ParseQuery(got)
	if v.Get("name") != "Aino Virtanen" || v.Get("city") != "Hämeenlinna" || v.Get("ok") != "a b" {
		t.Fatalf("upstream decodes %v", v)
	}
}

func TestSetANumber(t *testing.T) {
	u := newUpstream(t)
	c, _ := newClient(t, u, nil)
	for i := range 2 {
		res, err := c.SetANumber(t.Context(), "", testutil.MustJSON(t, map[string]any{"aNumber": "+358401234567"}))
		if err != nil || string(res) != "null" {
			t.Fatalf("call %d: %s %v", i, res, err)
		}
	}
	reqs := u.requests()
	want := []string{"GET /api/users/me", "POST /api/users/8a1b-user/features/cli/activate/", "POST /api/users/8a1b-user/features/cli/activate/"}
	if len(reqs) != len(want) {
		t.Fatalf("requests %+v, want %v", reqs, want)
	}
	for i, r := range reqs {
		if r.Method+" "+r.Path != want[i] {
			t.Fatalf("request %d is %s %s, want %s", i, r.Method, r.Path, want[i])
		}
	}
	if reqs[1].Body != `{"Number":"+358401234567"}` || reqs[1].ContentType != "application/json" {
		t.Fatalf("activate body %q", reqs[1].Body)
	}

	// a session token is another credential: its own /users/me, sent as a bearer token
	if _, err := c.SetANumber(t.Context(), session, testutil.MustJSON(t, map[string]any{"aNumber": "0401234567"})); err != nil {
		t.Fatal(err)
	}
	reqs = u.requests()
	if len(reqs) != 5 || reqs[3].Path != "/api/users/me" || reqs[3].Auth != "Bearer "+session || reqs[4].Auth != "Bearer "+session {
		t.Fatalf("bearer requests %+v", reqs[3:])
	}

	for _, bad := range []string{"", "12", "+35840abc", "+3584012345678901", "358 40 123", `"}`} {
		_, err := c.SetANumber(t.Context(), "", testutil.MustJSON(t, map[string]any{"aNumber": bad}))
		wantCode(t, err, protocol.CodeInvalidParams)
	}
	if len(u.requests()) != 5 {
		t.Fatal("an invalid A-number reached the upstream")
	}
}

func TestANumberBodyTemplate(t *testing.T) {
	u := newUpstream(t)
	c, _ := newClient(t, u, func(c *enreach.Config) {
		c.ANumberBody = `{"CallerNumber":"{{aNumber}}","Once":true}`
	})
	if _, err := c.SetANumber(context.Background(), "", testutil.MustJSON(t, map[string]any{"aNumber": "+4620123456"})); err != nil {
		t.Fatal(err)
	}
	if b := u.last().Body; b != `{"CallerNumber":"+4620123456","Once":true}` {
		t.Fatalf("body %s", b)
	}
	for _, tmpl := range []string{`{"Number":{{aNumber}}}`, `{"Number":"{{aNumber}}"`, `{"Number":"x"}`} {
		if _, err := enreach.New(enreach.Config{BaseURL: u.URL, ANumberBody: tmpl}); err == nil {
			t.Fatalf("template %s accepted", tmpl)
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  enreach.Config
		ok   bool
	}{
		{"ok", enreach.Config{BaseURL: "https://api-sedna.enreachvoice.com/"}, true},
		{"basic", enreach.Config{BaseURL: "https://api.example.com", User: "u", Secret: "s"}, true},
		{"no url", enreach.Config{}, false},
		{"relative url", enreach.Config{BaseURL: "api.example.com"}, false},
		{"user info", enreach.Config{BaseURL: "https://u:p@api.example.com"}, false},
		{"user without secret", enreach.Config{BaseURL: "https://api.example.com", User: "u"}, false},
		{"secret without user", enreach.Config{BaseURL: "https://api.example.com", Secret: "s"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := enreach.New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v", err)
			}
			if err != nil && tt.cfg.Secret != "" && strings.Contains(err.Error(), tt.cfg.Secret+"@") {
				t.Fatal("the error holds the secret")
			}
		})
	}
}
