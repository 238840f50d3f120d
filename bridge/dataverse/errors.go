package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/cifbridge/cifbridge/internal/neterr"
	"github.com/cifbridge/cifbridge/protocol"
)

// apiError is a Dataverse error answer: HTTP status, hex code, message and
// the Retry-After delay of a 429/503.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *apiError) Error() string {
	return fmt.Sprintf("dataverse %d %s: %s", e.Status, e.Code, e.Message)
}

// parseAPIError reads {"error":{"code","message"}}; a body of another shape
// gives the status text and the start of the body.
func parseAPIError(res *http.Response, body []byte, now time.Time) *apiError {
	e := &apiError{Status: res.StatusCode}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && (env.Error.Code != "" || env.Error.Message != "") {
		e.Code, e.Message = env.Error.Code, env.Error.Message
	} else {
		e.Message = http.StatusText(res.StatusCode)
		if s := strings.TrimSpace(string(body)); s != "" {
			e.Message += ": " + truncate(s, 512)
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(res.StatusCode)
	}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(res.Header.Get("Retry-After"), now)
	}
	return e
}

// retryAfter parses Retry-After: delta-seconds (fractions accepted) or an
// HTTP date. Unparseable or past values give 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f <= 0 || f > 24*3600 {
			return 0
		}
		return time.Duration(f * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// wire maps an apiError to the -32001 error of messageType.
func (b *Backend) wire(messageType string, e *apiError) *protocol.Error {
	d := protocol.BackendErrorData{
		DataverseCode: e.Code,
		HTTPStatus:    e.Status,
		ErrorMsg:      e.Message,
		RetryAfterMs:  e.RetryAfter.Milliseconds(),
		Value: protocol.CIFError{ErrorMsg: e.Message, SourceFunc: protocol.SourceFunc(messageType), ErrorType: protocol.CIFErrorXrmAPI,
			ReportTime: b.cfg.Now().UTC().Format(http.TimeFormat)},
	}
	if e.RetryAfter > 0 && d.RetryAfterMs == 0 {
		d.RetryAfterMs = 1
	}
	return protocol.NewError(protocol.CodeBackend, e.Message, d)
}

// wireErr maps any error of a request to what Execute returns: Dataverse
// errors to -32001, our own HTTP timeout to -32001 with httpStatus 504 and
// timeoutMs (outcome unknown; distinct from the CIF -32000), a token
// failure to -32001 with the token endpoint's status, an unreachable org to
// -32002; protocol errors and the caller's context end pass through.
func (b *Backend) wireErr(ctx context.Context, call attempt, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return b.wire(call.messageType, ae)
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		msg := "dataverse authentication failed: the token endpoint refused the client credentials (" + tokenErrorReason(err) + ")"
		if status >= 500 {
			msg = "dataverse authentication failed: the token endpoint is failing (" + tokenErrorReason(err) + "); try again later"
		}
		return b.wire(call.messageType, &apiError{Status: status, Code: re.ErrorCode, Message: msg})
	}
	if errors.Is(err, context.DeadlineExceeded) || neterr.IsTimeout(err) {
		b.log.Warn().Str("method", call.method).Str("attempt", call.attemptID).Dur("timeout", b.cfg.HTTPTimeout).
			Msg("dataverse did not answer in time: the outcome is unknown")
		msg := fmt.Sprintf("dataverse did not answer within %v (--dataverse-timeout): the outcome is unknown", b.cfg.HTTPTimeout)
		e := b.wire(call.messageType, &apiError{Status: protocol.UpstreamTimeoutStatus, Message: msg})
		var d protocol.BackendErrorData
		_ = json.Unmarshal(e.Data, &d)
		d.TimeoutMs = b.cfg.HTTPTimeout.Milliseconds()
		return protocol.NewError(protocol.CodeBackend, msg, d)
	}
	b.log.Warn().Err(err).Str("method", call.method).Str("attempt", call.attemptID).Msg("dataverse unreachable")
	// A failed dial sent nothing; a connection that broke after the request
	// went out may have let the operation run.
	return protocol.NewNoBackendError(!neterr.DialFailed(err), "dataverse unreachable: %s", neterr.Innermost(err))
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool { return errors.As(err, target) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
