// Package web holds what a browser loads from the daemon — the JS client
// (/js/cifbridge.js), the recorder, the dashboard (/) and the examples
// (/examples/) and the emulated Dynamics main window (/host/) — embedded in
// the binary. node_modules, test and types-check
// stay out of the binary.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed *.js *.d.ts dashboard examples host
var files embed.FS

// FS is the embedded web folder.
func FS() fs.FS { return files }

// Mount adds the web routes to a pattern → handler map:
//
//	GET /              the dashboard (web/dashboard/index.html)
//	GET /dashboard/    its modules and styles
//	GET /js/           the JS client and the recorder (cifbridge.js, recorder.js, .d.ts)
//	GET /host/         the emulated Dynamics main window (web/host/index.html)
//	                   and its modules (GET /host/config.json is served by
//	                   serve's hostpage plug-in)
//	GET /examples/     sample widgets; they import "../cifbridge.js", so the
//	GET /cifbridge.js  modules are also served at the root
//	GET /recorder.js
func Mount(m map[string]http.Handler) {
	fileServer := noCache(http.FileServerFS(files))
	m["GET /js/"] = http.StripPrefix("/js/", fileServer)
	m["GET /dashboard/"] = fileServer
	m["GET /examples/"] = fileServer
	m["GET /host/"] = fileServer
	for _, name := range []string{"cifbridge.js", "cifbridge.d.ts", "recorder.js", "recorder.d.ts"} {
		m["GET /"+name] = fileServer
	}
	m["GET /{$}"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, files, "dashboard/index.html")
	})
}

// noCache makes browsers revalidate: embedded files carry no modification
// time, so without it an upgraded daemon could serve a stale dashboard from
// the browser's cache.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
