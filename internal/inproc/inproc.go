// Package inproc keeps an http.Handler's answer in memory, for the
// emulators that serve requests in-process (the Dataverse emulator's $batch
// parts, the Enreach emulator's Transport).
//
// Entry point: Recorder.
package inproc

import (
	"bytes"
	"errors"
	"net/http"
)

// ErrTooLarge is what Recorder.Write returns past its limit.
var ErrTooLarge = errors.New("in-process response larger than its limit")

// Recorder is an http.ResponseWriter that records the answer: the first
// status written (200 once a body is written without one), the header and
// the body, up to Limit bytes when Limit > 0.
type Recorder struct {
	Status int
	Body   bytes.Buffer
	Limit  int
	header http.Header
}

// Header returns the answer's header, as http.ResponseWriter does.
func (r *Recorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

// WriteHeader records status unless one was written already.
func (r *Recorder) WriteHeader(status int) {
	if r.Status == 0 {
		r.Status = status
	}
}

// Write appends b to the body (200 when no status was written), or refuses
// it whole with ErrTooLarge when the body would pass Limit.
func (r *Recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.Limit > 0 && r.Body.Len()+len(b) > r.Limit {
		return 0, ErrTooLarge
	}
	return r.Body.Write(b)
}
