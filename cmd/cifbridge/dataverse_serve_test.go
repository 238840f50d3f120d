package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

const dvTestSecret = "dv-client-SECRET-9f8e7d"

// dvOrg is the emulator's Web API face requiring "Bearer tok-*", with a
// token endpoint for the test credentials and an optional interceptor.
type dvOrg struct {
	org, tokens *httptest.Server
	emu         *emulator.Emulator
	tokenReqs   atomic.Int64
	tokenFail   atomic.Bool // the token endpoint answers 500 while set
	intercept   atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newDVOrg(t *testing.T) *dvOrg {
	t.Helper()
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	o := &dvOrg{emu: emu}
	face := emu.WebAPIHandler()
	o.org = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if f := o.intercept.Load(); f != nil && (*f)(w, r) {
			return
		}
		face.ServeHTTP(w, r)
	}))
	o.tokens = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if o.tokenFail.Load() {
			http.Error(w, "token service unavailable", http.StatusInternalServerError)
			return
		}
		if r.PostForm.Get("client_secret") != dvTestSecret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, o.tokenReqs.Add(1))
	}))
	t.Cleanup(func() { o.org.Close(); o.tokens.Close() })
	return o
}

func secretFile(t *testing.T, secret string) string {
	t.Helper()
	return tempFile(t, "secret", secret+"\n")
}

func TestDataverseFlagValidation(t *testing.T) {
	o := newDVOrg(t)
	file := secretFile(t, dvTestSecret)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no url", []string{"--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file}, nil, "--dataverse-url"},
		{"no client id", []string{"--dataverse-url", o.org.URL, "--dataverse-tenant", "t", "--dataverse-client-secret-file", file}, nil, "--dataverse-client-id"},
		{"no tenant", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-client-secret-file", file}, nil, "--dataverse-tenant"},
		{"no secret", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t"}, nil, "CIFBRIDGE_DATAVERSE_CLIENT_SECRET"},
		{"secret twice", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret", "x", "--dataverse-client-secret-file", file}, nil, "not both"},
		{"missing secret file", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file + ".nope"}, nil, "--dataverse-client-secret-file"},
		{"timeout above CIF", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file, "--dataverse-timeout", "12s"}, nil, "shorter than the CIF timeout"},
		{"bad url", []string{"--dataverse-url", "contoso", "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file}, nil, "absolute"},
		{"negative page size", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file, "--dataverse-page-size", "-1"}, nil, "--dataverse-page-size must be 0"},
		{"page size above the cap", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file, "--dataverse-page-size", "5001"}, nil, "--dataverse-page-size must be 0 (the org's default page) to 5000, got 5001"},
		{"page size env above the cap", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file},
			map[string]string{"CIFBRIDGE_DATAVERSE_PAGE_SIZE": "6000"}, "--dataverse-page-size must be 0 (the org's default page) to 5000, got 6000"},
		{"page size env not a number", []string{"--dataverse-url", o.org.URL, "--dataverse-client-id", "c", "--dataverse-tenant", "t", "--dataverse-client-secret-file", file},
			map[string]string{"CIFBRIDGE_DATAVERSE_PAGE_SIZE": "ten"}, "CIFBRIDGE_DATAVERSE_PAGE_SIZE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if err := refuseServe(t, tt.want, append([]string{"--backend", "dataverse"}, tt.args...)...); strings.Contains(err.Error(), dvTestSecret) {
				t.Fatal("the error holds the secret")
			}
		})
	}
}

// TestServeDataversePageSize: --dataverse-page-size (or its environment
// variable) asks the org for pages of that size on searches, and the bridge
// follows the pages to the whole answer; unset, the org's default page.
func TestServeDataversePageSize(t *testing.T) {
	o := newDVOrg(t)
	var (
		mu      sync.Mutex
		prefers []string // Prefer header of each GET on the contacts collection
	)
	f := func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/contacts") {
			mu.Lock()
			prefers = append(prefers, r.Header.Get("Prefer"))
			mu.Unlock()
		}
		return false
	}
	o.intercept.Store(&f)
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantPrefer []string
	}{
		{name: "flag", args: []string{"--dataverse-page-size", "2"}, wantPrefer: slices.Repeat([]string{"odata.maxpagesize=2"}, 3)},
		{name: "environment", env: map[string]string{"CIFBRIDGE_DATAVERSE_PAGE_SIZE": "3"}, wantPrefer: slices.Repeat([]string{"odata.maxpagesize=3"}, 2)},
		{name: "unset", wantPrefer: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			url, _, stop := startServe(t, append([]string{"--backend", "dataverse", "--dataverse-url", o.org.URL, "--dataverse-token-url", o.tokens.URL,
				"--dataverse-client-id", "app", "--dataverse-client-secret-file", secretFile(t, dvTestSecret)}, tt.args...)...)
			w := dialWS(t, url)
			lastname := "Paged" + strings.ToUpper(tt.name[:1]) + tt.name[1:]
			for i := range 5 {
				if _, perr := w.call(protocol.MethodCreateRecord, map[string]any{"entityName": "contact",
					"value": map[string]any{"firstname": fmt.Sprint("P", i), "lastname": lastname}}); perr != nil {
					t.Fatal(perr)
				}
			}
			mu.Lock()
			prefers = nil
			mu.Unlock()
			res, perr := w.call(protocol.MethodSearch, map[string]any{"entityName": "contact",
				"queryParameters": "?$select=firstname&$filter=lastname eq '" + lastname + "'&$orderby=firstname", "searchOnly": true})
			var got map[string]struct {
				Firstname string `json:"firstname"`
			}
			if perr != nil || json.Unmarshal(res, &got) != nil || len(got) != 5 || got["0"].Firstname != "P0" || got["4"].Firstname != "P4" {
				t.Fatalf("search: %s %v, want P0…P4", res, perr)
			}
			mu.Lock()
			seen := slices.Clone(prefers)
			mu.Unlock()
			if !slices.Equal(seen, tt.wantPrefer) {
				t.Fatalf("the org saw page requests with Prefer %q, want %q", seen, tt.wantPrefer)
			}
			w.c.Close()
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestServeDataverseBackend runs cifbridge serve --backend dataverse against
// the emulator's Web API face: cif.* round trips, and an
// enreach.xrm.createRecord whose first attempt gets a 429 with Retry-After
// is retried by the retry engine after that delay.
func TestServeDataverseBackend(t *testing.T) {
	o := newDVOrg(t)
	url, logs, stop := startServe(t, "--backend", "dataverse", "--dataverse-url", o.org.URL, "--dataverse-token-url", o.tokens.URL,
		"--dataverse-client-id", "app", "--dataverse-client-secret-file", secretFile(t, dvTestSecret), "--log-level", "debug")
	w := dialWS(t, url)

	res, perr := w.call(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": `{"firstname":"Ada","lastname":"Lovelace"}`})
	if perr != nil {
		t.Fatal(perr)
	}
	var c protocol.CreateResult
	_ = json.Unmarshal(res, &c)
	res, perr = w.call(protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": c.ID, "queryParameters": "?$select=fullname"})
	if perr != nil || !strings.Contains(string(res), `"fullname":"Ada Lovelace"`) {
		t.Fatalf("retrieve %s %v", res, perr)
	}
	_, perr = w.call(protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"})
	if d, ok := protocol.BackendData(perr); !ok || d.HTTPStatus != 404 || d.DataverseCode != "0x80040217" {
		t.Fatalf("404: %+v", perr)
	}

	var throttled atomic.Int64
	f := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || throttled.Add(1) > 1 {
			return false
		}
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit."}}`)
		return true
	}
	o.intercept.Store(&f)
	start := time.Now()
	res, perr = w.call(protocol.MethodXrmCreateRecord, map[string]any{"entityLogicalName": "contact", "data": map[string]any{"firstname": "Grace"}, "delay": 10})
	took := time.Since(start)
	if perr != nil {
		t.Fatalf("xrm create: %v", perr)
	}
	var xr protocol.XrmCreateResult
	_ = json.Unmarshal(res, &xr)
	if xr.Attempts != 2 || xr.ID == "" {
		t.Fatalf("xrm create %s, want 2 attempts", res)
	}
	if took < 900*time.Millisecond {
		t.Fatalf("the retry came after %v, want at least the 1 s Retry-After", took)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{dvTestSecret, "tok-1", "Bearer"} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("the log holds %q", s)
		}
	}
}

// TestReadyzDataverse: with --backend dataverse, /readyz asks the org
// (WhoAmI with a token): 503 naming the backend while the token endpoint
// refuses the credentials, fails or is unreachable, without the secret in
// the answer; 200 once a token is issued.
func TestReadyzDataverse(t *testing.T) {
	o := newDVOrg(t)
	deadTokens := httptest.NewServer(http.NotFoundHandler())
	deadTokens.Close() // nothing listens here any more
	tests := []struct {
		name      string
		tokenURL  string
		secret    string
		fail      bool
		wantError string
	}{
		{"wrong secret", o.tokens.URL, "not-the-" + dvTestSecret, false, "invalid_client"},
		{"token endpoint fails", o.tokens.URL, dvTestSecret, true, "token endpoint is failing"},
		{"token endpoint unreachable", deadTokens.URL, dvTestSecret, false, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o.tokenFail.Store(tt.fail)
			defer o.tokenFail.Store(false)
			wsURL, logs, stop := startServe(t, "--backend", "dataverse", "--dataverse-url", o.org.URL, "--dataverse-token-url", tt.tokenURL,
				"--dataverse-client-id", "app", "--dataverse-client-secret-file", secretFile(t, tt.secret))
			base := "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), protocol.PathWidget)
			status, body := getReadyz(t, base)
			if status != http.StatusServiceUnavailable || body["backend"] != "dataverse" || !strings.Contains(body["error"], tt.wantError) {
				t.Fatalf("readyz %d %v, want 503 naming dataverse and %q", status, body, tt.wantError)
			}
			for _, secret := range []string{dvTestSecret, tt.secret} {
				if raw, _ := json.Marshal(body); strings.Contains(string(raw), secret) {
					t.Fatalf("the readyz answer holds the secret: %s", raw)
				}
			}
			if tt.tokenURL == o.tokens.URL && tt.secret == dvTestSecret {
				o.tokenFail.Store(false) // the token endpoint recovers
				if status, body := getReadyz(t, base); status != http.StatusOK || body["backend"] != "dataverse" {
					t.Fatalf("readyz after recovery %d %v", status, body)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), dvTestSecret) {
				t.Fatal("the log holds the secret")
			}
		})
	}

	t.Run("working credentials", func(t *testing.T) {
		wsURL, _, stop := startServe(t, "--backend", "dataverse", "--dataverse-url", o.org.URL, "--dataverse-token-url", o.tokens.URL,
			"--dataverse-client-id", "app", "--dataverse-client-secret-file", secretFile(t, dvTestSecret))
		defer stop()
		base := "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), protocol.PathWidget)
		if status, body := getReadyz(t, base); status != http.StatusOK || body["backend"] != "dataverse" || body["status"] != "ok" {
			t.Fatalf("readyz %d %v", status, body)
		}
	})
}

func getReadyz(t *testing.T, base string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("readyz body: %v", err)
	}
	return resp.StatusCode, body
}
