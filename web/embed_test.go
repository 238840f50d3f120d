package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMountServesClientUnderJS(t *testing.T) {
	routes := map[string]http.Handler{}
	Mount(routes)
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}

	// The entry and every module it imports, relative to /js/.
	for path, want := range map[string]string{
		"/js/cifbridge.js":         `from "./src/client.js"`,
		"/js/cifbridge.d.ts":       "export declare function install",
		"/js/recorder.js":          "export function createRecorder",
		"/js/src/transport.js":     "export class Connection",
		"/js/src/cif/index.js":     "export const CIF_AREAS",
		"/examples/softphone.html": `from "/js/cifbridge.js"`,
	} {
		rec := get(path)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s = %d, body without %q", path, rec.Code, want)
		}
	}

	// The old root addresses redirect, so relative imports resolve under /js/.
	for _, name := range []string{"cifbridge.js", "recorder.js"} {
		rec := get("/" + name)
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/js/"+name {
			t.Errorf("GET /%s = %d Location %q, want 301 to /js/%s", name, rec.Code, rec.Header().Get("Location"), name)
		}
	}

	// The pages carry no icon link: the browser's /favicon.ico gets an
	// empty answer, not a 404.
	if rec := get("/favicon.ico"); rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("GET /favicon.ico = %d with %d bytes, want 204 and none", rec.Code, rec.Body.Len())
	}

	// Tests and node_modules are not embedded.
	if rec := get("/js/package.json"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /js/package.json = %d, want 404", rec.Code)
	}
}
