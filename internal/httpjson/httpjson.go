// Package httpjson writes the answers of the daemon's HTTP APIs (admin,
// ledger, emulator): a JSON body that is never cached, and errors as
// {"error":{"code","message","data"?}} with a JSON-RPC error object, so every
// endpoint fails the same way.
package httpjson

import (
	"encoding/json"
	"net/http"

	"github.com/cifbridge/cifbridge/protocol"
)

// Write answers with v as indented JSON. A value that cannot be encoded
// becomes a 500 with a -32603 error instead of a half-written body.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":-32603,"message":"internal error: cannot encode the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Error answers with {"error": err} (protocol.AsError: never code 0).
func Error(w http.ResponseWriter, status int, err error) {
	Write(w, status, map[string]any{"error": protocol.AsError(err)})
}
