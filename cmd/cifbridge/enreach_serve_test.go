package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/enreachemu"
	"github.com/cifbridge/cifbridge/protocol"
)

const enTestSecret = "enreach-SECRET-key-4242"

func TestEnreachFlagValidation(t *testing.T) {
	file := secretFile(t, enTestSecret)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"user without url or emulator", []string{"--enreach-emulator=false", "--enreach-user", "u"}, "--enreach-url"},
		{"emulator user without secret", []string{"--enreach-user", "u"}, "CIFBRIDGE_ENREACH_SECRET"},
		{"user without secret", []string{"--enreach-url", "https://api.example.com", "--enreach-user", "u"}, "CIFBRIDGE_ENREACH_SECRET"},
		{"secret without user", []string{"--enreach-url", "https://api.example.com", "--enreach-secret-file", file}, "--enreach-user"},
		{"secret twice", []string{"--enreach-url", "https://api.example.com", "--enreach-user", "u", "--enreach-secret-file", file, "--enreach-secret", "x"}, "not both"},
		{"bad body template", []string{"--enreach-url", "https://api.example.com", "--enreach-anumber-body", `{"Number":1}`}, "{{aNumber}}"},
		{"bad url", []string{"--enreach-url", "api.example.com"}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := refuseServe(t, tt.want, tt.args...); strings.Contains(err.Error(), enTestSecret) {
				t.Fatal("the error holds the secret")
			}
		})
	}
}

func TestServeEnreach(t *testing.T) {
	var auth atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(up.Close)
	url, logs, stop := startServe(t, "--enreach-url", up.URL, "--enreach-user", "agent", "--enreach-secret-file", secretFile(t, enTestSecret))
	w := dialWS(t, url)
	res, perr := w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"})
	if perr != nil || string(res) != `{"path":"/users/me"}` {
		t.Fatalf("executeQuery %s %v", res, perr)
	}
	if a, _ := auth.Load().(string); a != "Basic "+base64.StdEncoding.EncodeToString([]byte("agent:"+enTestSecret)) {
		t.Fatalf("upstream auth %q", a)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), enTestSecret) || strings.Contains(logs.String(), "Basic ") {
		t.Fatal("the log holds the secret")
	}

	// without --enreach-url and with the emulator off the methods are not registered
	url, _, _ = startServe(t, "--enreach-emulator=false")
	_, perr = dialWS(t, url).call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"})
	if perr == nil || perr.Code != protocol.CodeNoBackend || !strings.Contains(perr.Message, "--enreach-url") {
		t.Fatalf("without --enreach-url: %+v", perr)
	}
}

// TestServeEnreachEmulator is the zero-config daemon: enreach.executeQuery
// and enreach.setANumber over a real WebSocket are answered by the embedded
// Enreach emulator, its admin stats show them, its REST face answers curl
// with Enreach credentials, and a fault set through the admin API reaches
// the widget as -32006.
func TestServeEnreachEmulator(t *testing.T) {
	url, _, _ := startServe(t)
	base := "http" + strings.TrimSuffix(strings.TrimPrefix(url, "ws"), protocol.PathWidget)
	w := dialWS(t, url)
	res, perr := w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"})
	if perr != nil || !strings.Contains(string(res), `"Id":"`+enreachemu.DefaultUserID+`"`) {
		t.Fatalf("executeQuery /users/me: %s %+v", res, perr)
	}
	if res, perr = w.call(protocol.MethodEnreachSetANumber, map[string]any{"aNumber": "+358401234567"}); perr != nil || string(res) != "null" {
		t.Fatalf("setANumber: %s %+v", res, perr)
	}
	if _, perr = w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/no/such/path"}); perr == nil || perr.Code != protocol.CodeUpstream || !strings.Contains(perr.Message, "404") {
		t.Fatalf("unknown path: %+v", perr)
	}
	var st enreachemu.Stats
	getJSON(t, base+enreachemu.PathStats, &st)
	if st.Requests["GET /users/me"] != 2 || st.Requests["POST /users/{userId}/features/cli/activate/"] != 1 || st.NotFound != 1 ||
		st.NextCallANumbers[enreachemu.DefaultUserID].Number != "+358401234567" {
		t.Fatalf("stats %+v", st)
	}

	// the REST face, as curl sees it
	req, _ := http.NewRequest("GET", base+"/enreach-emulator/users/me", nil)
	if res := mustDo(t, req); res.StatusCode != 401 {
		t.Fatalf("REST face without credentials: %d", res.StatusCode)
	}
	req.SetBasicAuth(enreachemu.DefaultEmail, enreachemu.DefaultSecretKey)
	if res := mustDo(t, req); res.StatusCode != 200 {
		t.Fatalf("REST face: %d", res.StatusCode)
	}

	// a fault through the admin API
	req, _ = http.NewRequest("PUT", base+enreachemu.PathFaults, strings.NewReader(`{"rules":[{"method":"GET","path":"/calls","status":503,"count":1}]}`))
	req.Header.Set("Content-Type", "application/json") // the bridge's cross-site guard
	if res := mustDo(t, req); res.StatusCode != 200 {
		t.Fatalf("PUT faults: %d", res.StatusCode)
	}
	_, perr = w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/calls"})
	if perr == nil || perr.Code != protocol.CodeUpstream || !strings.Contains(perr.Message, "503") {
		t.Fatalf("injected 503: %+v", perr)
	}
}

// TestServeEnreachEmulatorFile loads users and canned responses from
// --enreach-emulator-file; --enreach-user/secret sign in as another user.
func TestServeEnreachEmulatorFile(t *testing.T) {
	spec := `{"users":[{"id":"u-1","email":"one@example.com","password":"p","secretKey":"s1"},{"id":"u-2","email":"two@example.com","password":"p","secretKey":"` + enTestSecret + `"}],
	  "responses":[{"method":"GET","path":"/classificationschemas","body":[{"Id":"cs-1","Name":"Sales"}]}]}`
	file := tempFile(t, "enreach.json", spec)
	url, _, _ := startServe(t, "--enreach-emulator-file", file, "--enreach-user", "two@example.com", "--enreach-secret-file", secretFile(t, enTestSecret))
	w := dialWS(t, url)
	if res, perr := w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"}); perr != nil || !strings.Contains(string(res), `"Id":"u-2"`) {
		t.Fatalf("me: %s %+v", res, perr)
	}
	if res, perr := w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "classificationschemas"}); perr != nil || !strings.Contains(string(res), "Sales") {
		t.Fatalf("canned: %s %+v", res, perr)
	}
	// a wrong secret is refused by the emulator like by the real API
	url, _, _ = startServe(t, "--enreach-emulator-file", file, "--enreach-user", "two@example.com", "--enreach-secret-file", secretFile(t, "wrong"))
	if _, perr := dialWS(t, url).call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"}); perr == nil || !strings.Contains(perr.Message, "401") {
		t.Fatalf("wrong secret: %+v", perr)
	}
	for _, args := range [][]string{
		{"--enreach-emulator-file", filepath.Join(t.TempDir(), "missing.json")},
		{"--enreach-emulator-file", secretFile(t, `{"users":[{"id":"x"}]}`)},
		{"--enreach-emulator-file", file, "--enreach-url", "https://api.example.com"},
		{"--enreach-emulator=false", "--enreach-emulator-file", file},
	} {
		refuseServe(t, "enreach-emulator", args...)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	res := mustDo(t, req)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		t.Fatal(err)
	}
}

type bodyResponse struct {
	*http.Response
	body []byte
}

func mustDo(t *testing.T, req *http.Request) bodyResponse {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return bodyResponse{res, b}
}
