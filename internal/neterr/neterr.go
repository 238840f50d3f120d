// Package neterr turns transport failures into text safe for a log line or
// a wire error: the innermost cause ("connect: connection refused"), never
// the URL around it (its query may hold record data or a token).
//
// Entry points: Innermost, IsTimeout, DialFailed.
package neterr

import (
	"errors"
	"net"
)

// DialFailed reports whether err is a failure to connect (refused, no route,
// name not found): nothing was sent, so the operation never ran.
func DialFailed(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

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
