package httpjson_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/internal/httpjson"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestWriteAndError(t *testing.T) {
	rec := httptest.NewRecorder()
	httpjson.Write(rec, http.StatusCreated, map[string]int{"n": 1})
	if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" || rec.Body.String() != "{\n  \"n\": 1\n}\n" {
		t.Fatalf("write: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	httpjson.Write(rec, http.StatusOK, map[string]any{"f": func() {}})
	if rec.Code != 500 || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("unencodable: %d %q", rec.Code, rec.Body)
	}
	for _, err := range []error{protocol.InvalidParams("bad %q", "x"), errors.New("plain")} {
		rec = httptest.NewRecorder()
		httpjson.Error(rec, http.StatusBadRequest, err)
		var body struct{ Error protocol.Error }
		if json.Unmarshal(rec.Body.Bytes(), &body) != nil || rec.Code != 400 || body.Error.Code == 0 || body.Error.Message == "" {
			t.Fatalf("error %v: %d %q", err, rec.Code, rec.Body)
		}
	}
}

// TestReadStrict: a body is read into its value, or refused with the status
// and a message that names what was read and what was wrong.
func TestReadStrict(t *testing.T) {
	type body struct {
		N int `json:"n"`
	}
	tests := []struct {
		name, in   string
		wantStatus int
		wantMsg    string
	}{
		{"ok", `{"n":3}`, 0, ""},
		{"unknown field", `{"n":3,"m":1}`, 400, `the thing must be JSON like {"n":1}: json: unknown field "m"`},
		{"trailing data", `{"n":3} {}`, 400, "trailing data after the JSON value"},
		{"not JSON", `n=3`, 400, "the thing must be JSON like"},
		{"too large", `{"n":` + strings.Repeat("1", 64) + `}`, 413, "the thing is larger than 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			var v body
			ok := httpjson.ReadStrict(rec, httptest.NewRequest("PUT", "/", strings.NewReader(tt.in)), &v, 32, "the thing", `{"n":1}`)
			if tt.wantStatus == 0 {
				if !ok || v.N != 3 || rec.Body.Len() != 0 {
					t.Fatalf("read %v %+v, answered %d %q", ok, v, rec.Code, rec.Body)
				}
				return
			}
			var got struct{ Error protocol.Error }
			if ok || rec.Code != tt.wantStatus || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Error.Code != protocol.CodeInvalidParams || !strings.Contains(got.Error.Message, tt.wantMsg) {
				t.Fatalf("read %v, answered %d %q; want %d naming %q", ok, rec.Code, rec.Body, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

// TestFallback: a known path with another method is 405 naming the methods
// (and Allow); an unknown path is 404 naming what the API serves.
func TestFallback(t *testing.T) {
	h := httpjson.Fallback("test admin", map[string]string{"/a": "GET, PUT", "/b": "POST"}, "/a", "/b")
	tests := []struct {
		method, path string
		status       int
		code         int64
		allow, msg   string
	}{
		{"POST", "/a", 405, protocol.CodeInvalidRequest, "GET, PUT", "/a does not serve POST: use GET, PUT"},
		{"GET", "/b/", 405, protocol.CodeInvalidRequest, "POST", "/b does not serve GET: use POST"},
		{"GET", "/c", 404, protocol.CodeMethodNotFound, "", "no test admin endpoint /c: it serves /a and /b"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(tt.method, tt.path, nil))
		var got struct{ Error protocol.Error }
		if json.Unmarshal(rec.Body.Bytes(), &got) != nil || rec.Code != tt.status || got.Error.Code != tt.code || got.Error.Message != tt.msg || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q %q; want %d Allow %q %q", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"), rec.Body, tt.status, tt.allow, tt.msg)
		}
	}
}

// TestSetting: GET answers the value; PUT replaces it and answers the new
// one, or refuses a body Set rejects (400 naming the setting) or cannot
// read, leaving the value as it was.
func TestSetting(t *testing.T) {
	n, logged := 1, 0
	mux := http.NewServeMux()
	httpjson.Setting[int]{
		Name: "level", What: "the level", Example: "3", Limit: 16,
		Get: func() any { return n },
		Set: func(v int) error {
			if v < 0 {
				return errors.New("must be 0 or more")
			}
			n = v
			return nil
		},
		Done: func(int) { logged++ },
	}.Handle(mux, "/level")
	tests := []struct {
		name, method, body string
		wantCode           int
		wantBody           string
	}{
		{"get", "GET", "", 200, "1"},
		{"put", "PUT", "5", 200, "5"},
		{"refused", "PUT", "-1", 400, `level: must be 0 or more`},
		{"not JSON", "PUT", "x", 400, `the level must be JSON like 3`},
		{"too big", "PUT", strings.Repeat(" ", 20) + "1", 413, `the level is larger than 16 bytes`},
		{"unchanged", "GET", "", 200, "5"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tt.method, "/level", strings.NewReader(tt.body)))
		if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("%s: %d %q, want %d containing %q", tt.name, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
		}
	}
	if logged != 1 {
		t.Errorf("Done ran %d times, want 1 (the one accepted PUT)", logged)
	}
}
