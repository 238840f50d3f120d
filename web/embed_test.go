package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// mountedMux serves the routes Mount adds.
func mountedMux() *http.ServeMux {
	routes := map[string]http.Handler{}
	Mount(routes)
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	return mux
}

func TestMountServesClientUnderJS(t *testing.T) {
	mux := mountedMux()
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

// A widget served from its own origin imports the client from the daemon:
// module scripts are fetched in CORS mode, so /js/ (and the old addresses
// that redirect there) must allow any origin, while the rest does not.
func TestMountClientReadableCrossOrigin(t *testing.T) {
	mux := mountedMux()
	for _, tc := range []struct {
		name, path, want string
	}{
		{name: "entry", path: "/js/cifbridge.js", want: "*"},
		{name: "module", path: "/js/src/cif/index.js", want: "*"},
		{name: "recorder", path: "/js/recorder.js", want: "*"},
		{name: "old address", path: "/cifbridge.js", want: "*"},
		{name: "dashboard", path: "/", want: ""},
		{name: "host page", path: "/host/", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			req.Header.Set("Origin", "http://127.0.0.1:5173")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("GET %s: Access-Control-Allow-Origin = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}
