package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

const (
	adaID    = "11111111-1111-4111-8111-111111111111"
	alanID   = "33333333-3333-4333-8333-333333333333"
	engineID = "22222222-2222-4222-8222-222222222222"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newEmulator returns an emulator of cfg, failing tb if New refuses it.
func newEmulator(tb testing.TB, cfg emulator.Config) *emulator.Emulator {
	tb.Helper()
	e, err := emulator.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// newSeeded returns an emulator with the example schema and seed.
func newSeeded(t testing.TB) *emulator.Emulator {
	t.Helper()
	return newEmulator(t, emulator.Config{
		Schema: readFile(t, "testdata/schema-example.json"),
		Seed:   readFile(t, "testdata/seed-example.json"),
	})
}

func call(e *emulator.Emulator, method string, params any) (json.RawMessage, error) {
	return callCtx(context.Background(), e, method, params)
}

func callCtx(ctx context.Context, e *emulator.Emulator, method string, params any) (json.RawMessage, error) {
	var raw json.RawMessage
	switch p := params.(type) {
	case json.RawMessage:
		raw = p
	case string:
		raw = json.RawMessage(p)
	default:
		raw, _ = json.Marshal(p)
	}
	return e.Execute(ctx, &correlation.Attempt{Session: "s1", ID: "a1", Method: method, Params: raw})
}

// wantErr describes an expected error: the JSON-RPC code and, for -32001,
// the Dataverse status and code.
type wantErr struct {
	rpc    int64
	status int
	code   string
	msg    string // substring of the message, optional
}

func checkErr(t *testing.T, err error, want *wantErr) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("want error %+v, got nil", *want)
	}
	pe := protocol.AsError(err)
	if pe.Code != want.rpc {
		t.Fatalf("rpc code = %d, want %d (%v)", pe.Code, want.rpc, err)
	}
	if want.msg != "" && !strings.Contains(pe.Message, want.msg) {
		t.Fatalf("message %q does not contain %q", pe.Message, want.msg)
	}
	if want.rpc == protocol.CodeBackend {
		d, ok := protocol.BackendData(err)
		if !ok {
			t.Fatalf("no backend data in %v", err)
		}
		if d.HTTPStatus != want.status || d.DataverseCode != want.code {
			t.Fatalf("backend error = %d %s %q, want %d %s", d.HTTPStatus, d.DataverseCode, d.ErrorMsg, want.status, want.code)
		}
		if d.Value.ErrorType != protocol.CIFErrorXrmAPI || d.Value.SourceFunc == "" || d.Value.ReportTime == "" {
			t.Fatalf("CIF error value incomplete: %+v", d.Value)
		}
	}
}

// callMap calls method, fails t unless it succeeds, and gives its result
// as a map (decodeMap).
func callMap(t testing.TB, e *emulator.Emulator, method string, params any) map[string]any {
	t.Helper()
	res, err := call(e, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return decodeMap(t, res)
}

// callWant calls method and checks its error against want (nil: none
// wanted); ok reports a call that succeeded, res its result as a map.
func callWant(t *testing.T, e *emulator.Emulator, method string, params any, want *wantErr) (res map[string]any, ok bool) {
	t.Helper()
	raw, err := call(e, method, params)
	checkErr(t, err, want)
	if want != nil {
		return nil, false
	}
	return decodeMap(t, raw), true
}

func decodeMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func backendCall(session, method, params string) *correlation.Attempt {
	return &correlation.Attempt{Session: session, ID: "a", Method: method, Params: json.RawMessage(params)}
}

// The Web API face: a server of it, and requests to it.

type webResp struct {
	status int
	header http.Header
	body   map[string]any
}

func newWebServer(t *testing.T, e *emulator.Emulator) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(emulator.WebAPIPrefix, e.WebAPIHandler())
	mux.Handle("/api/v1/emulator/", e.AdminHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// send makes one request to srv with body of contentType and extra header
// name/value pairs; the caller closes the response body.
func send(t *testing.T, srv *httptest.Server, method, path, contentType string, body io.Reader, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, headers ...string) webResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	res := send(t, srv, method, path, "application/json", rd, headers...)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := webResp{status: res.StatusCode, header: res.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out.body); err != nil && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: body %q: %v", method, path, b, err)
		}
	}
	return out
}

func errCode(r webResp) string { return errField(r, "code") }

func errMsg(r webResp) string { return errField(r, "message") }

// errField reads a string field of a Dataverse error body {"error":{…}}.
func errField(r webResp, key string) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e[key].(string)
	return s
}
