package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// status sends one HTTP request to the bridge and returns the status and
// the error message of an {"error":…} answer.
func (tb *testBridge) status(t *testing.T, method, path string, header http.Header, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, tb.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := tb.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error struct{ Message string } }
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Message
}

// dialStatus opens a WebSocket and returns 101 or the refusal's status.
func (tb *testBridge) dialStatus(t *testing.T, path string, header http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: header, HTTPClient: tb.hc}
	if h := header.Get("Host"); h != "" {
		opts.Host = h
	}
	ws, resp, err := websocket.Dial(ctx, tb.wsURL(path), opts)
	if err == nil {
		ws.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return resp.StatusCode
}

// Each role's token opens its own door only: a widget token (which a
// browser exposes) never opens /v1/host, /api/ or /metrics; the admin token
// opens all; /livez and /readyz stay open.
func TestRoleTokens(t *testing.T) {
	tb := startBridge(t, bridge.Config{Tokens: bridge.Tokens{Widget: "w-tok", Host: "h-tok", Admin: "a-tok"}})
	bearer := func(tok string) http.Header {
		if tok == "" {
			return http.Header{}
		}
		return http.Header{"Authorization": {"Bearer " + tok}}
	}
	const ok, no = http.StatusOK, http.StatusUnauthorized
	tests := []struct {
		token                      string
		widget, host, api, metrics int
	}{
		{token: "", widget: no, host: no, api: no, metrics: no},
		{token: "nope", widget: no, host: no, api: no, metrics: no},
		{token: "w-tok", widget: http.StatusSwitchingProtocols, host: no, api: no, metrics: no},
		{token: "h-tok", widget: no, host: http.StatusSwitchingProtocols, api: no, metrics: no},
		{token: "a-tok", widget: http.StatusSwitchingProtocols, host: http.StatusSwitchingProtocols, api: ok, metrics: ok},
	}
	for _, tt := range tests {
		t.Run("token "+tt.token, func(t *testing.T) {
			h := bearer(tt.token)
			if got := tb.dialStatus(t, protocol.PathWidget, h); got != tt.widget {
				t.Errorf("/v1/widget: %d, want %d", got, tt.widget)
			}
			if got := tb.dialStatus(t, protocol.PathHost, h); got != tt.host {
				t.Errorf("/v1/host: %d, want %d", got, tt.host)
			}
			for _, p := range []string{"/api/v1/status", "/api/v1/sessions", "/api/v1/emulator/stats"} {
				if got, msg := tb.status(t, "GET", p, h, ""); got != tt.api {
					t.Errorf("%s: %d, want %d", p, got, tt.api)
				} else if got == no && !strings.Contains(msg, "admin token") {
					t.Errorf("%s: message %q does not say which token", p, msg)
				}
			}
			if got, _ := tb.status(t, "GET", "/metrics", h, ""); got != tt.metrics {
				t.Errorf("/metrics: %d, want %d", got, tt.metrics)
			}
			for _, p := range []string{"/livez", "/readyz"} {
				if got, _ := tb.status(t, "GET", p, h, ""); got != ok {
					t.Errorf("%s: %d, want 200 without any token", p, got)
				}
			}
		})
	}
	// The widget token also works as ?access_token= (browsers cannot set
	// WebSocket headers), and still only for widgets.
	if got, _ := tb.status(t, "GET", "/api/v1/status?access_token=w-tok", nil, ""); got != no {
		t.Errorf("widget token as access_token on /api/: %d", got)
	}
}

// With only the old Token set, it is the admin token: it opens every role,
// and nothing else does.
func TestOldTokenIsTheAdminToken(t *testing.T) {
	tb := startBridge(t, bridge.Config{Token: "old"})
	h := http.Header{"Authorization": {"Bearer old"}}
	if got := tb.dialStatus(t, protocol.PathWidget, h); got != http.StatusSwitchingProtocols {
		t.Fatalf("widget with the old token: %d", got)
	}
	if got := tb.dialStatus(t, protocol.PathWidget, nil); got != http.StatusUnauthorized {
		t.Fatalf("widget without: %d", got)
	}
	var st struct{ Security bridge.SecurityStatus }
	tb.getJSON(t, "/api/v1/status", h, &st)
	if len(st.Security.OpenRoles) != 0 {
		t.Fatalf("open roles %v", st.Security.OpenRoles)
	}
}

func (tb *testBridge) getJSON(t *testing.T, path string, h http.Header, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", tb.url+path, nil)
	for k, vv := range h {
		req.Header[k] = vv
	}
	resp, err := tb.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
}

// DNS rebinding: a name that is not loopback, the listen address or
// --allowed-hosts is refused on HTTP and WebSocket alike, even with a
// matching Origin.
func TestHostHeaderGuard(t *testing.T) {
	tb := startBridge(t, bridge.Config{AllowedHosts: []string{"*.corp.example", "bridge.example.com"}, ListenAddr: "0.0.0.0:8787"})
	tests := []struct {
		host string
		ok   bool
	}{
		{"rebind.evil.com", false},
		{"rebind.evil.com:8787", false},
		{"localhost.evil.com", false},
		{"127.0.0.1.evil.com", false},
		{"localhost:8787", true},
		{"app.localhost", true},
		{"127.0.0.1:8787", true},
		{"[::1]:8787", true},
		{"10.1.2.3:8787", true}, // listening on every address: any IP
		{"bridge.example.com", true},
		{"BRIDGE.example.com.:8787", true},
		{"x.corp.example:8787", true},
		{"corp.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			h := http.Header{"Host": {tt.host}, "Origin": {"http://" + tt.host}}
			wantHTTP, wantWS := http.StatusOK, http.StatusSwitchingProtocols
			if !tt.ok {
				wantHTTP, wantWS = http.StatusMisdirectedRequest, http.StatusMisdirectedRequest
			}
			for _, p := range []string{"/api/v1/status", "/readyz", "/metrics"} {
				got, msg := tb.status(t, "GET", p, h, "")
				if got != wantHTTP {
					t.Errorf("%s: %d, want %d", p, got, wantHTTP)
				}
				if !tt.ok && !strings.Contains(msg, "--allowed-hosts") {
					t.Errorf("%s: message %q does not say what to do", p, msg)
				}
			}
			if got, _ := tb.status(t, "POST", "/api/v1/emulator/reset", h.Clone(), "{}"); tt.ok != (got != http.StatusMisdirectedRequest) {
				t.Errorf("reset: %d", got)
			}
			if got := tb.dialStatus(t, protocol.PathWidget, h); got != wantWS {
				t.Errorf("widget socket: %d, want %d", got, wantWS)
			}
		})
	}
	// Listening on one address: another IP is not this bridge's.
	tb2 := startBridge(t, bridge.Config{ListenAddr: "192.0.2.7:8787"})
	if got, _ := tb2.status(t, "GET", "/livez", http.Header{"Host": {"192.0.2.7:8787"}}, ""); got != http.StatusOK {
		t.Errorf("listen address: %d", got)
	}
	if got, _ := tb2.status(t, "GET", "/livez", http.Header{"Host": {"192.0.2.8:8787"}}, ""); got != http.StatusMisdirectedRequest {
		t.Errorf("another address: %d", got)
	}
}

// A page on another site cannot change the bridge: state-changing admin
// requests need an allowed Origin (when one is sent) and a JSON body type.
func TestAdminRefusesCrossSiteChanges(t *testing.T) {
	tb := startBridge(t, bridge.Config{AllowedOrigins: []string{"https://ops.example.com"}})
	self := "http://" + strings.TrimPrefix(tb.url, "http://")
	json := "application/json"
	tests := []struct {
		name   string
		method string
		origin string
		ctype  string
		body   string
		want   int
	}{
		{"evil origin with JSON", "POST", "https://evil.example", json, "{}", http.StatusForbidden},
		{"null origin", "POST", "null", json, "{}", http.StatusForbidden},
		{"loopback page on another port", "POST", "http://localhost:3000", json, "{}", http.StatusForbidden},
		{"form post from the same origin", "POST", self, "application/x-www-form-urlencoded", "a=1", http.StatusUnsupportedMediaType},
		{"text/plain without origin", "POST", "", "text/plain", "{}", http.StatusUnsupportedMediaType},
		{"no content type", "POST", "", "", "", http.StatusUnsupportedMediaType},
		{"same origin JSON", "POST", self, json, "{}", http.StatusNoContent},
		{"allowed origin JSON", "POST", "https://ops.example.com", json + "; charset=utf-8", "{}", http.StatusNoContent},
		{"no origin JSON (curl)", "POST", "", json, "", http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			if tt.ctype != "" {
				h.Set("Content-Type", tt.ctype)
			}
			got, msg := tb.status(t, tt.method, "/api/v1/emulator/reset", h, tt.body)
			if got != tt.want {
				t.Fatalf("%d %q, want %d", got, msg, tt.want)
			}
			if got == http.StatusUnsupportedMediaType && !strings.Contains(msg, "Content-Type: application/json") {
				t.Fatalf("message %q does not say what to send", msg)
			}
		})
	}
	// Reads stay open to any page's GET (CORS keeps the answer from it).
	if got, _ := tb.status(t, "GET", "/api/v1/status", http.Header{"Origin": {"https://evil.example"}}, ""); got != http.StatusOK {
		t.Fatalf("GET with a foreign origin: %d", got)
	}
}

// TestWebAPIBatchThroughTheDaemon: the Dataverse face's $batch takes
// multipart/mixed, as Dataverse does, through the admin guard (a browser
// must preflight that type, so it proves as much as JSON does); anywhere
// else multipart/mixed is refused like any other non-JSON body, and a
// foreign Origin is refused for $batch too.
func TestWebAPIBatchThroughTheDaemon(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	batch := "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"GET /api/data/v9.2/WhoAmI HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--batch_1--\r\n"
	mixed := http.Header{"Content-Type": {"multipart/mixed; boundary=batch_1"}}
	req, err := http.NewRequest("POST", tb.url+"/api/data/v9.2/$batch", strings.NewReader(batch))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = mixed.Clone()
	resp, err := tb.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/mixed") || !strings.Contains(string(b), "UserId") {
		t.Fatalf("$batch: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if got, msg := tb.status(t, "POST", "/api/v1/emulator/reset", mixed, "x"); got != http.StatusUnsupportedMediaType {
		t.Errorf("multipart/mixed on another path: %d %q", got, msg)
	}
	foreign := mixed.Clone()
	foreign.Set("Origin", "https://evil.example")
	if got, msg := tb.status(t, "POST", "/api/data/v9.2/$batch", foreign, batch); got != http.StatusForbidden {
		t.Errorf("$batch from a foreign origin: %d %q", got, msg)
	}
}

// TestLedgerAcceptsAccessToken: /api/v1/ledger takes ?access_token= like
// every other admin path.
func TestLedgerAcceptsAccessToken(t *testing.T) {
	l, err := ledger.Open(filepath.Join(t.TempDir(), ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := ledger.Handler(l, zerolog.Nop())
	tb := startBridge(t, bridge.Config{Token: "s3cret"})
	tb.srv.Mount(ledger.PathList, h)
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"?access_token=s3cret", http.StatusOK},
		{"?access_token=s3cret&limit=5", http.StatusOK},
		{"?access_token=wrong", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		if got, _ := tb.status(t, "GET", ledger.PathList+tt.query, nil, ""); got != tt.want {
			t.Errorf("GET %s%s = %d, want %d", ledger.PathList, strings.ReplaceAll(tt.query, "s3cret", "…"), got, tt.want)
		}
	}
}

// The shared token opens the widget socket (header or ?access_token=) and
// the admin API, an Origin must be allowed or loopback, and /livez and
// /readyz stay open.
func TestTokenAndOrigin(t *testing.T) {
	tb := startBridge(t, bridge.Config{Token: "s3cret", AllowedOrigins: []string{"*.crm4.dynamics.com"}})
	widget := protocol.PathWidget
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"no token", widget, nil, http.StatusUnauthorized},
		{"wrong token", widget, http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"token header", widget, http.Header{"Authorization": {"Bearer s3cret"}}, http.StatusSwitchingProtocols},
		{"token query", widget + "?access_token=s3cret", nil, http.StatusSwitchingProtocols},
		{"foreign origin", widget + "?access_token=s3cret", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"allowed origin", widget + "?access_token=s3cret", http.Header{"Origin": {"https://org.crm4.dynamics.com"}}, http.StatusSwitchingProtocols},
		{"loopback origin", widget + "?access_token=s3cret", http.Header{"Origin": {"http://localhost:3000"}}, http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tb.dialStatus(t, tt.path, tt.header); got != tt.status {
				t.Fatalf("dial %s: HTTP %d, want %d", tt.path, got, tt.status)
			}
		})
	}
	for path, want := range map[string]int{"/api/v1/sessions": 401, "/api/v1/emulator/stats": 401, "/livez": 200, "/readyz": 200} {
		if got, _ := tb.status(t, "GET", path, nil, ""); got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
	if got, msg := tb.status(t, "GET", "/api/v1/sessions", http.Header{"Authorization": {"Bearer s3cret"}}, ""); got != 200 {
		t.Fatalf("admin with token: %d %q", got, msg)
	}
}

// A path under /api/ that no route serves answers in the API's JSON error
// shape after the token check: 404 with -32601, or 405 with Allow and -32600
// when the path is served with other methods (wildcard routes included);
// the Go client reads both as ErrNotServed.
func TestUnknownAdminPathsAnswerJSON(t *testing.T) {
	tb := startBridge(t, bridge.Config{Tokens: bridge.Tokens{Admin: "a-tok"}})
	tests := []struct {
		method, path string
		token        string
		status       int
		code         int64
		allow        string
		msg          string
	}{
		{"GET", "/api/v1/nope", "a-tok", http.StatusNotFound, protocol.CodeMethodNotFound, "", "no admin endpoint GET /api/v1/nope"},
		{"GET", "/api/v1/ledger", "a-tok", http.StatusNotFound, protocol.CodeMethodNotFound, "", "with the retry engine"},
		{"DELETE", "/api/v1/status", "a-tok", http.StatusMethodNotAllowed, protocol.CodeInvalidRequest, "GET", "/api/v1/status does not serve DELETE: use GET"},
		{"GET", "/api/v1/sessions/s1/events", "a-tok", http.StatusMethodNotAllowed, protocol.CodeInvalidRequest, "POST", "use POST"},
		// The token check comes first: no route list for strangers.
		{"GET", "/api/v1/nope", "", http.StatusUnauthorized, 0, "", "admin token"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.token, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tb.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := tb.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error *protocol.Error }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == nil {
				t.Fatalf("%d, body not the JSON error shape: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tt.status || tt.code != 0 && body.Error.Code != tt.code || !strings.Contains(body.Error.Message, tt.msg) {
				t.Errorf("%d %+v, want %d, code %d, message with %q", resp.StatusCode, body.Error, tt.status, tt.code, tt.msg)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	admin, err := client.NewAdmin("ws"+strings.TrimPrefix(tb.url, "http")+protocol.PathWidget, "a-tok")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Ledger(t.Context(), client.LedgerFilter{}); !errors.Is(err, client.ErrNotServed) {
		t.Errorf("Ledger without the retry engine: %v, want ErrNotServed", err)
	}
	if err := admin.Do(t.Context(), http.MethodDelete, "/api/v1/status", nil, nil); !errors.Is(err, client.ErrNotServed) {
		t.Errorf("DELETE /api/v1/status: %v, want ErrNotServed", err)
	}
	if _, err := admin.Session(t.Context(), "s-none"); err == nil || errors.Is(err, client.ErrNotServed) {
		t.Errorf("an unknown session: %v, want the bridge's 404, not ErrNotServed", err)
	}
}
