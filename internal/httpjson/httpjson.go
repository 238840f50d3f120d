// Package httpjson writes the answers of the daemon's HTTP APIs (admin,
// ledger, emulator): a JSON body that is never cached, and errors as
// {"error":{"code","message","data"?}} with a JSON-RPC error object, so every
// endpoint fails the same way. It also reads their request bodies strictly
// (ReadStrict, DecodeStrict), so every endpoint refuses the same way.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

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

// DecodeStrict decodes the one JSON value in data into v: unknown fields and
// trailing data after the value are errors.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// ReadStrict reads r's body, at most limit bytes, into v with DecodeStrict
// and answers a failure itself with a -32602 error: 413 for a body over the
// limit, else 400 naming what was read ("the fault profile") and an example
// of the JSON wanted. It reports whether v was read.
func ReadStrict(w http.ResponseWriter, r *http.Request, v any, limit int64, what, example string) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Error(w, http.StatusRequestEntityTooLarge, protocol.InvalidParams("%s is larger than %d bytes", what, limit))
			return false
		}
		Error(w, http.StatusBadRequest, protocol.InvalidParams("cannot read %s: %v", what, err))
		return false
	}
	if err := DecodeStrict(b, v); err != nil {
		Error(w, http.StatusBadRequest, protocol.InvalidParams("%s must be JSON like %s: %v", what, example, err))
		return false
	}
	return true
}

// Fallback is the catch-all route of an API whose routes name their method
// ("GET /path"). allow maps each path to the methods it serves ("GET, PUT"):
// a known path asked with another method is answered 405 with Allow and a
// -32600 error; any other path 404 with a -32601 error naming the API and
// the paths it serves, in the order given.
func Fallback(api string, allow map[string]string, serves ...string) http.HandlerFunc {
	list := strings.Join(serves, ", ")
	if n := len(serves); n > 1 {
		list = strings.Join(serves[:n-1], ", ") + " and " + serves[n-1]
	}
	return func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimSuffix(r.URL.Path, "/")
		if methods, ok := allow[path]; ok {
			w.Header().Set("Allow", methods)
			Error(w, http.StatusMethodNotAllowed, protocol.Errorf(protocol.CodeInvalidRequest, "%s does not serve %s: use %s", path, r.Method, methods))
			return
		}
		Error(w, http.StatusNotFound, protocol.Errorf(protocol.CodeMethodNotFound, "no %s endpoint %s: it serves %s", api, r.URL.Path, list))
	}
}

// Setting is a value an admin API reads with GET and replaces with PUT (a
// fault profile, canned responses).
type Setting[T any] struct {
	Name    string // names the value in a refusal: "fault profile: rules[0]…"
	What    string // names the body for ReadStrict: "the fault profile"
	Example string // JSON like the body wanted, for ReadStrict
	Limit   int64  // body size limit, for ReadStrict
	Get     func() any
	Set     func(T) error
	Done    func(T) // after Set took the value (to log it); may be nil
}

// Handle registers "GET path" and "PUT path" on mux. PUT reads a T with
// ReadStrict and answers 400 -32602 "<Name>: <error>" when Set refuses it;
// both answer 200 with Get().
func (s Setting[T]) Handle(mux *http.ServeMux, path string) {
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		Write(w, http.StatusOK, s.Get())
	})
	mux.HandleFunc("PUT "+path, func(w http.ResponseWriter, r *http.Request) {
		var v T
		if !ReadStrict(w, r, &v, s.Limit, s.What, s.Example) {
			return
		}
		if err := s.Set(v); err != nil {
			Error(w, http.StatusBadRequest, protocol.InvalidParams("%s: %v", s.Name, err))
			return
		}
		if s.Done != nil {
			s.Done(v)
		}
		Write(w, http.StatusOK, s.Get())
	})
}
