package httpjson_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
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
