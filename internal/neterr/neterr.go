// Package neterr turns transport failures into text safe for a log line or
// a wire error: the innermost cause ("connect: connection refused"), never
// the URL around it (its query may hold record data or a token).
//
// Entry points: Innermost, IsTimeout.
package neterr

import "errors"

// Innermost is the text of the deepest error err wraps.
func Innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// IsTimeout reports whether err (or one it wraps) is a timeout.
func IsTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
