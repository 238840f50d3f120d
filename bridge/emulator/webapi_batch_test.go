package emulator_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// batchBody builds a $batch body: each part is a request ("METHOD URL\nbody")
// or a change set ([]string of requests).
func batchBody(parts ...any) string {
	var b strings.Builder
	req := func(boundary, id, r string) {
		line, body, _ := strings.Cut(r, "\n")
		b.WriteString("--" + boundary + "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
		if id != "" {
			b.WriteString("Content-ID: " + id + "\r\n")
		}
		b.WriteString("\r\n" + line + " HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" + body + "\r\n")
	}
	for _, p := range parts {
		switch x := p.(type) {
		case string:
			req("batch_1", "", x)
		case []string:
			b.WriteString("--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n")
			for i, r := range x {
				req("changeset_1", string(rune('1'+i)), r)
			}
			b.WriteString("--changeset_1--\r\n")
		}
	}
	b.WriteString("--batch_1--\r\n")
	return b.String()
}

// batchStatuses posts a batch and returns the status line of every answered
// request, change sets flattened.
func batchStatuses(t *testing.T, srv *httptest.Server, body string, headers ...string) []string {
	t.Helper()
	res := send(t, srv, "POST", "/api/data/v9.2/$batch", "multipart/mixed; boundary=batch_1", strings.NewReader(body), headers...)
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("$batch: %d %s", res.StatusCode, b)
	}
	_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	var out []string
	var walk func(r io.Reader, boundary string)
	walk = func(r io.Reader, boundary string) {
		mr := multipart.NewReader(r, boundary)
		for {
			p, err := mr.NextPart()
			if err != nil {
				return
			}
			mt, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if mt == "multipart/mixed" {
				walk(p, ps["boundary"])
				continue
			}
			b, _ := io.ReadAll(p)
			line, _, _ := bytes.Cut(b, []byte("\r\n"))
			out = append(out, strings.TrimPrefix(string(line), "HTTP/1.1 "))
		}
	}
	walk(res.Body, params["boundary"])
	return out
}

// TestWebAPIBatch: requests run in order, a change set is atomic and its
// Content-ID references work in URLs and binds, the batch stops at the
// first failure unless Prefer: odata.continue-on-error.
func TestWebAPIBatch(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	count := func(set, filter string) int {
		r := do(t, srv, "GET", "/api/data/v9.2/"+set+"?$filter="+strings.ReplaceAll(filter, " ", "%20"), "")
		return len(r.body["value"].([]any))
	}
	// a change set that succeeds: create, bind to it by Content-ID, update it by $1
	got := batchStatuses(t, srv, batchBody(
		[]string{
			"POST accounts\n" + `{"name":"Batch A"}`,
			"POST contacts\n" + `{"lastname":"In batch","parentcustomerid_account@odata.bind":"$1"}`,
			"PATCH $1\n" + `{"accountnumber":"B-1"}`,
		},
		"GET accounts?$select=name&$filter=accountnumber%20eq%20'B-1'\n",
	))
	if strings.Join(got, "|") != "204 No Content|204 No Content|204 No Content|200 OK" {
		t.Fatalf("statuses %v", got)
	}
	if count("contacts", "lastname eq 'In batch' and _parentcustomerid_value ne null") != 1 || count("accounts", "accountnumber eq 'B-1'") != 1 {
		t.Fatal("the change set's writes are not there")
	}
	// a failing change set rolls back what ran before the failure
	got = batchStatuses(t, srv, batchBody(
		[]string{
			"POST accounts\n" + `{"name":"Rolled back"}`,
			"POST accounts\n" + `{"name":"Bad","numberofemployees":"lots"}`,
		},
		"POST accounts\n"+`{"name":"After the failure"}`,
	))
	if strings.Join(got, "|") != "400 Bad Request" {
		t.Fatalf("failed change set: %v", got)
	}
	if count("accounts", "name eq 'Rolled back'") != 0 || count("accounts", "name eq 'After the failure'") != 0 {
		t.Fatal("a failed change set kept a write, or the batch went on after the failure")
	}
	// continue-on-error runs the rest
	got = batchStatuses(t, srv, batchBody(
		"POST accounts\n"+`{"name":"Bad","numberofemployees":"lots"}`,
		"POST accounts\n"+`{"name":"After the failure"}`,
	), "Prefer", "odata.continue-on-error")
	if strings.Join(got, "|") != "400 Bad Request|204 No Content" || count("accounts", "name eq 'After the failure'") != 1 {
		t.Fatalf("continue-on-error: %v", got)
	}
	// bad input
	for body, want := range map[string]string{
		"--batch_1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--batch_1--\r\n":               "application/http",
		"--batch_1\r\nContent-Type: application/http\r\n\r\nNOT A REQUEST\r\n--batch_1--\r\n": "METHOD URL HTTP/1.1",
		"--batch_1--\r\n":                     "no requests",
		batchBody([]string{"GET accounts\n"}): "may not hold a GET",
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/data/v9.2/$batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=batch_1")
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(string(b), want) {
			t.Errorf("%q: %d %s, want 400 naming %q", body, res.StatusCode, b, want)
		}
	}
	if r := do(t, srv, "POST", "/api/data/v9.2/$batch", "{}"); r.status != 400 || !strings.Contains(errMsg(r), "multipart/mixed") {
		t.Fatalf("JSON body: %d %v", r.status, r.body)
	}
}

func FuzzBatch(f *testing.F) {
	f.Add(batchBody([]string{"POST accounts\n" + `{"name":"A"}`, "PATCH $1\n" + `{"name":"B"}`}, "GET accounts?$top=1\n"))
	f.Add("--batch_1\r\nContent-Type: application/http\r\n\r\nDELETE accounts(00000000-0000-0000-0000-000000000000) HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		h := newSeeded(t).WebAPIHandler() // fresh each run: the store does not grow across inputs
		req := httptest.NewRequest("POST", "/api/data/v9.2/$batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=batch_1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// TestWebAPIBatchHeaderSpelling: inside a $batch answer the headers are
// text a client reads itself, and Dataverse's samples match them as
// written ("Content-ID: 1", "OData-EntityId: …"): they carry Dataverse's
// spelling, not Go's canonical "Content-Id" / "Odata-Entityid".
func TestWebAPIBatchHeaderSpelling(t *testing.T) {
	srv := newWebServer(t, newSeeded(t))
	res := send(t, srv, "POST", "/api/data/v9.2/$batch", "multipart/mixed; boundary=batch_1",
		strings.NewReader(batchBody([]string{"POST accounts\n" + `{"name":"Spelled"}`}, "GET WhoAmI\n")))
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"\r\nContent-ID: 1\r\n", "\r\nOData-EntityId: " + srv.URL + "/api/data/v9.2/accounts(", "\r\nOData-Version: 4.0\r\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the answer has no %q:\n%s", want, b)
		}
	}
	for _, bad := range []string{"Content-Id:", "Odata-"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("the answer spells %q:\n%s", bad, b)
		}
	}
}
