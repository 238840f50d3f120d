package dataverse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/dataverse"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

const (
	clientID     = "app-7b0c"
	clientSecret = "s3cr3t-CLIENT-value-never-logged"
)

const testSchema = `{
  "duplicateRules": [{"entity": "contact", "attributes": ["emailaddress1"], "onCIF": false}],
  "operations": [
    {"name": "new_Ping", "kind": "action", "response": {"pong": true}},
    {"name": "new_GetQueueLength", "kind": "function", "response": {"length": 3}},
    {"name": "new_Fire", "kind": "action"}
  ],
  "environment": {"userLcid": 1035, "orgLcid": 1033, "crmVersion": "9.2.24011.00192", "username": "agent@contoso.com"}
}`

// tokenServer is an OAuth2 token endpoint issuing "tok-1", "tok-2", … for
// the test client's credentials.
type tokenServer struct {
	*httptest.Server // nil in a pipe fixture
	handler          http.Handler
	requests         atomic.Int64
	expires          int // expires_in seconds
}

func newTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	ts := newTokenHandler()
	ts.Server = httptest.NewServer(ts.handler)
	t.Cleanup(ts.Close)
	return ts
}

func newTokenHandler() *tokenServer {
	ts := &tokenServer{expires: 3600}
	ts.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != clientID ||
			r.PostForm.Get("client_secret") != clientSecret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			return
		}
		n := ts.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d,"scope":%q}`, n, ts.expires, r.PostForm.Get("scope"))
	})
	return ts
}

// org is the emulator's Web API face behind a gate that checks bearer
// tokens (rejecting the ones in revoked with 401), records requests and can
// answer with a canned response instead.
type org struct {
	*httptest.Server // nil in a pipe fixture
	handler          http.Handler
	emu              *emulator.Emulator

	mu        sync.Mutex
	revoked   map[string]bool
	requests  []recorded
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

type recorded struct {
	Method, Path, Query string
	Header              http.Header
}

func newOrg(t *testing.T) *org {
	t.Helper()
	o := newOrgHandler(t)
	o.Server = httptest.NewServer(o.handler)
	t.Cleanup(o.Close)
	return o
}

func newOrgHandler(t *testing.T) *org {
	t.Helper()
	emu, err := emulator.New(emulator.Config{Schema: []byte(testSchema), MaxRecords: -1}) // keep all: some tests create more than the default bound
	if err != nil {
		t.Fatal(err)
	}
	o := &org{emu: emu, revoked: map[string]bool{}}
	face := emu.WebAPIHandler()
	o.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		o.mu.Lock()
		o.requests = append(o.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone()})
		bad := !ok || !strings.HasPrefix(tok, "tok-") || o.revoked[tok]
		icpt := o.intercept
		o.mu.Unlock()
		if bad {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if icpt != nil && icpt(w, r) {
			return
		}
		face.ServeHTTP(w, r)
	})
	return o
}

func (o *org) revoke(tok string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.revoked[tok] = true
}

func (o *org) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.intercept = f
}

// reset forgets the recorded requests.
func (o *org) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = nil
}

// direct runs a call on the emulator itself, as --backend emulator would.
func (o *org) direct(t *testing.T, method string, v any) json.RawMessage {
	t.Helper()
	p, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	res, err := o.emu.Execute(context.Background(), &correlation.Attempt{Session: "direct", ID: "d", Method: method, Params: p})
	if err != nil {
		t.Fatalf("emulator %s: %v", method, err)
	}
	return res
}

// count returns how many requests matched method and a path suffix.
func (o *org) count(method, pathSuffix string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, r := range o.requests {
		if (method == "" || r.Method == method) && strings.HasSuffix(r.Path, pathSuffix) {
			n++
		}
	}
	return n
}

func (o *org) last() recorded {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[len(o.requests)-1]
}

// fixture is a backend wired to an org and a token server, with its log
// captured.
type fixture struct {
	t   *testing.T
	b   *dataverse.Backend
	org *org
	ts  *tokenServer
	log *testutil.Buffer
}

// newFixture runs the org and the token endpoint on loopback.
func newFixture(t *testing.T, edit func(*dataverse.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, org: newOrg(t), ts: newTokenServer(t)}
	return f.start(dataverse.Config{URL: f.org.URL, TokenURL: f.ts.URL}, edit)
}

// newPipeFixture runs the org and the token endpoint (at /token) on one
// in-memory listener: call it inside a synctest bubble, where the backend's
// HTTP timeouts pass instantly and exactly. Its org has no URL of its own.
func newPipeFixture(t *testing.T, edit func(*dataverse.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, org: newOrgHandler(t), ts: newTokenHandler()}
	mux := http.NewServeMux()
	mux.Handle("/token", f.ts.handler)
	mux.Handle("/", f.org.handler)
	ln, hc := testutil.ServePipe(t, mux)
	base := "http://" + ln.Addr().String()
	return f.start(dataverse.Config{URL: base, TokenURL: base + "/token", HTTPClient: hc}, edit)
}

// start builds the backend on cfg (the org and token URLs set) edited by
// edit.
func (f *fixture) start(cfg dataverse.Config, edit func(*dataverse.Config)) *fixture {
	t := f.t
	t.Helper()
	f.log = &testutil.Buffer{}
	cfg.ClientID, cfg.ClientSecret = clientID, clientSecret
	cfg.Logger = zerolog.New(f.log).Level(zerolog.DebugLevel)
	if edit != nil {
		edit(&cfg)
	}
	b, err := dataverse.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.b = b
	t.Cleanup(func() {
		testutil.NoSecrets(t, "the log", f.log.String(), clientSecret, "tok-1", "tok-2", "tok-3", "Bearer ")
	})
	return f
}

var attemptSeq atomic.Int64

// call runs one Execute with params marshalled from v.
func (f *fixture) call(session, method string, v any) (json.RawMessage, error) {
	f.t.Helper()
	p, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return f.b.Execute(ctx, &correlation.Attempt{Session: session, ID: fmt.Sprintf("a%d", attemptSeq.Add(1)), Method: method, Params: p,
		Deadline: time.Now().Add(10 * time.Second)})
}

func (f *fixture) ok(method string, v any, out any) json.RawMessage {
	f.t.Helper()
	res, err := f.call("s1", method, v)
	if err != nil {
		f.t.Fatalf("%s %v: %v", method, v, err)
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			f.t.Fatalf("%s result %s: %v", method, res, err)
		}
	}
	return res
}

// backendErr asserts a -32001 error with status and code and returns its data.
func backendErr(t *testing.T, err error, status int, code string) protocol.BackendErrorData {
	t.Helper()
	d, ok := protocol.BackendData(err)
	if !ok {
		t.Fatalf("got %v, want a -32001 backend error", err)
	}
	if d.HTTPStatus != status || d.DataverseCode != code {
		t.Fatalf("got status %d code %q (%s), want %d %q", d.HTTPStatus, d.DataverseCode, d.ErrorMsg, status, code)
	}
	if d.Value.ErrorType != protocol.CIFErrorXrmAPI || d.Value.ErrorMsg == "" || d.Value.SourceFunc == "" {
		t.Fatalf("CIF value %+v is incomplete", d.Value)
	}
	return d
}
