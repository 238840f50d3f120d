// Package web holds what a browser loads from the daemon — the JS client
// and the recorder (web/client/, served at /js/), the dashboard (/), the
// examples (/examples/) and the emulated Dynamics main window (/host/) —
// embedded in the binary. node_modules, test and types-check stay out of
// the binary.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed client/*.js client/*.d.ts client/src dashboard examples host
var files embed.FS

// FS is the embedded web folder.
func FS() fs.FS { return files }

// Mount adds the web routes to a pattern → handler map:
//
//	GET /              the dashboard (web/dashboard/index.html)
//	GET /dashboard/    its modules and styles
//	GET /js/           the JS client and the recorder (web/client/: cifbridge.js,
//	                   recorder.js, their .d.ts and the modules under src/),
//	                   readable from any origin (see anyOrigin)
//	GET /examples/     sample widgets; they import "/js/cifbridge.js"
//	GET /cifbridge.js  older addresses of the modules: a permanent redirect
//	GET /recorder.js   to /js/…, so relative imports resolve under /js/
//	GET /host/         the emulated Dynamics main window (web/host/index.html)
//	                   and its modules (GET /host/config.json is served by
//	                   serve's hostpage plug-in); they import the client as
//	                   "../client/cifbridge.js", as in the source tree
//	GET /client/       the same files as /js/, for those relative imports
//	GET /favicon.ico   204 No Content: a browser asks every origin for an
//	                   icon; the pages have none, and an empty answer keeps
//	                   a 404 out of their console
func Mount(m map[string]http.Handler) {
	fileServer := noCache(http.FileServerFS(files))
	client, err := fs.Sub(files, "client")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	m["GET /js/"] = anyOrigin(http.StripPrefix("/js/", noCache(http.FileServerFS(client))))
	m["GET /dashboard/"] = fileServer
	m["GET /examples/"] = fileServer
	m["GET /host/"] = fileServer
	m["GET /client/"] = fileServer
	for _, name := range []string{"cifbridge.js", "cifbridge.d.ts", "recorder.js", "recorder.d.ts"} {
		m["GET /"+name] = anyOrigin(http.RedirectHandler("/js/"+name, http.StatusMovedPermanently))
	}
	m["GET /favicon.ico"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
	m["GET /{$}"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, files, "dashboard/index.html")
	})
}

// anyOrigin lets a page of any origin load the files: a widget served by its
// own dev server imports the client from the daemon
// (import … from "http://127.0.0.1:8787/js/cifbridge.js", as the README
// says), and a browser fetches a module script in CORS mode, so without
// the header the import fails. The files are the public client code and
// carry nothing of the session; no credentials are allowed.
func anyOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
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
