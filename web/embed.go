// Package web holds what a browser loads from the daemon — the JS client
// (/js/cifbridge.js), the recorder, the dashboard (/) and the examples —
// embedded in the binary.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed *.js *.d.ts
var files embed.FS

// FS is the embedded web folder.
func FS() fs.FS { return files }

// Mount adds the web routes to a pattern → handler map: /js/ serves the
// modules and / the dashboard.
func Mount(m map[string]http.Handler) {
	fileServer := http.FileServerFS(files)
	m["GET /js/"] = http.StripPrefix("/js/", fileServer)
	m["GET /{$}"] = fileServer
}
