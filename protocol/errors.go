package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Error is a JSON-RPC 2.0 error object. Two Errors are the same error for
// errors.Is when their codes are equal, so the sentinels below can be matched
// after wrapping with fmt.Errorf("…: %w", err).
type Error struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Data) > 0 {
		return fmt.Sprintf("jsonrpc error %d: %s (data: %s)", e.Code, e.Message, e.Data)
	}
	return fmt.Sprintf("jsonrpc error %d: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// JSON-RPC 2.0 codes (-32700..-32603) and cifbridge's own range
// (-32000..-32099). The constants are stable: clients switch on them.
const (
	CodeParseError     = -32700 // the message is not valid JSON; answered with "id": null
	CodeInvalidRequest = -32600 // valid JSON but not a JSON-RPC 2.0 request object
	CodeMethodNotFound = -32601 // no such method
	CodeInvalidParams  = -32602 // params missing, of the wrong type or out of range; the message names the field
	CodeInternal       = -32603 // a bug on our side; details are in the daemon's log, never on the wire

	CodeTimeout          = -32000 // CIF timeout: no answer within the session's timeout (data.message is CIF's text)
	CodeBackend          = -32001 // the backend answered with an error (data: dataverseCode, httpStatus, errorMsg, value)
	CodeNoBackend        = -32002 // no backend or host peer serves this session, or it went away mid-call
	CodeOverloaded       = -32003 // in-flight or rate limit reached; retry later
	CodeUnauthorized     = -32004 // missing/invalid token or origin not allowed
	CodeRetriesExhausted = -32005 // every attempt failed (data.attempts lists each outcome)
	CodeUpstream         = -32006 // the Enreach REST upstream answered with an error (data: status, body)
	CodeShuttingDown     = -32007 // the bridge is shutting down; reconnect to another instance or retry later
	CodeSafetyLimit      = -32008 // a call CIF runs without a timeout (openForm, notifyEvent, insertNotes) got no answer within --notimeout-limit
)

// Sentinels for errors.Is. Build real errors with NewError or Errorf.
var (
	ErrParse            = &Error{Code: CodeParseError, Message: "parse error"}
	ErrInvalidRequest   = &Error{Code: CodeInvalidRequest, Message: "invalid request"}
	ErrMethodNotFound   = &Error{Code: CodeMethodNotFound, Message: "method not found"}
	ErrInvalidParams    = &Error{Code: CodeInvalidParams, Message: "invalid params"}
	ErrInternal         = &Error{Code: CodeInternal, Message: "internal error"}
	ErrTimeout          = &Error{Code: CodeTimeout, Message: "CIF timeout"}
	ErrBackend          = &Error{Code: CodeBackend, Message: "backend error"}
	ErrNoBackend        = &Error{Code: CodeNoBackend, Message: "no backend available"}
	ErrOverloaded       = &Error{Code: CodeOverloaded, Message: "overloaded"}
	ErrUnauthorized     = &Error{Code: CodeUnauthorized, Message: "unauthorized"}
	ErrRetriesExhausted = &Error{Code: CodeRetriesExhausted, Message: "retries exhausted"}
	ErrUpstream         = &Error{Code: CodeUpstream, Message: "upstream error"}
	ErrShuttingDown     = &Error{Code: CodeShuttingDown, Message: "shutting down"}
	ErrSafetyLimit      = &Error{Code: CodeSafetyLimit, Message: "safety limit reached"}
)

// TimeoutMessage is CIF's own text when no answer came within the timeout.
const TimeoutMessage = "Timeout occurred as no response was received from listener window"

// NewError returns an Error with the given code and message; data, when not
// nil, is marshalled into Data (a json.RawMessage is used as is).
func NewError(code int64, message string, data any) *Error {
	e := &Error{Code: code, Message: message}
	if data != nil {
		e.Data = mustRaw(data)
	}
	return e
}

// Errorf returns an Error with code and a formatted message.
func Errorf(code int64, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidParams returns a -32602 error whose message says what to fix.
func InvalidParams(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParams, Message: "invalid params: " + fmt.Sprintf(format, args...)}
}

// AsError maps any error to the *Error that goes on the wire. An *Error found
// with errors.As is returned as is; anything else becomes a generic -32603 so
// that no internal text leaks (log the original where it is handled).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		if e.Code == 0 { // never put code 0 on the wire
			return &Error{Code: CodeInternal, Message: e.Message, Data: e.Data}
		}
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}

// TimeoutData is the data of a -32000 CIF timeout error.
type TimeoutData struct {
	Message   string `json:"message"` // always TimeoutMessage
	TimeoutMs int64  `json:"timeoutMs"`
	AttemptID string `json:"attemptId,omitempty"` // the attempt's id; a later bridge.late names it
}

// NewTimeoutError returns the -32000 error for an attempt that got no answer
// within timeoutMs.
func NewTimeoutError(timeoutMs int64, attemptID string) *Error {
	return NewError(CodeTimeout, TimeoutMessage, TimeoutData{Message: TimeoutMessage, TimeoutMs: timeoutMs, AttemptID: attemptID})
}

// CIFError is the error object stock CIF rejects with, under the key "value":
// {"value":{"errorMsg","sourceFunc","errorType","reportTime"}}.
type CIFError struct {
	ErrorMsg   string `json:"errorMsg"`
	SourceFunc string `json:"sourceFunc,omitempty"`
	ErrorType  int    `json:"errorType"` // 0 InvalidParams, 1 TimeOut, 2 XrmApiError, 3 GenericError
	ReportTime string `json:"reportTime,omitempty"`
}

// CIF errorType values.
const (
	CIFErrorInvalidParams = 0
	CIFErrorTimeOut       = 1
	CIFErrorXrmAPI        = 2
	CIFErrorGeneric       = 3
)

// BackendErrorData is the data of a -32001 backend error. Unlike stock CIF it
// keeps the Dataverse code and HTTP status.
type BackendErrorData struct {
	DataverseCode string `json:"dataverseCode,omitempty"` // e.g. "0x80040237"
	HTTPStatus    int    `json:"httpStatus,omitempty"`    // e.g. 412
	ErrorMsg      string `json:"errorMsg"`                // Dataverse's message
	RetryAfterMs  int64  `json:"retryAfterMs,omitempty"`  // from a 429/503 Retry-After header; the retry engine waits at least this long
	// TimeoutMs is set when the backend itself gave up waiting for its
	// upstream (the dataverse backend's --dataverse-timeout); HTTPStatus is
	// then 504 and the outcome is unknown: the operation may have run. It
	// is not the CIF timeout (-32000), and no bridge.late follows.
	TimeoutMs int64    `json:"timeoutMs,omitempty"`
	Value     CIFError `json:"value"` // what stock CIF would have rejected with
}

// UpstreamTimeoutStatus is BackendErrorData.HTTPStatus when the backend's
// own HTTP timeout ended a request (no status was received).
const UpstreamTimeoutStatus = 504

// NewBackendError returns a -32001 error carrying a Dataverse error.
func NewBackendError(httpStatus int, dataverseCode, msg, sourceFunc, reportTime string) *Error {
	return NewError(CodeBackend, msg, BackendErrorData{
		DataverseCode: dataverseCode,
		HTTPStatus:    httpStatus,
		ErrorMsg:      msg,
		Value:         CIFError{ErrorMsg: msg, SourceFunc: sourceFunc, ErrorType: CIFErrorXrmAPI, ReportTime: reportTime},
	})
}

// BackendData decodes the data of a -32001 error; ok is false for other errors.
func BackendData(err error) (d BackendErrorData, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBackend || len(e.Data) == 0 {
		return d, false
	}
	return d, json.Unmarshal(e.Data, &d) == nil
}

// NoBackendData is the data of a -32002 error: whether the call reached
// whoever would execute it. Delivered false proves the operation never ran
// (no host peer, connection refused): anything may be retried. Delivered
// true means it left the bridge and the executor went away before answering
// (a host peer disconnected, a connection broke): it may have run, so a
// retried create may duplicate.
type NoBackendData struct {
	Delivered bool `json:"delivered"`
}

// NewNoBackendError returns a -32002 error with NoBackendData.
func NewNoBackendError(delivered bool, format string, args ...any) *Error {
	return NewError(CodeNoBackend, fmt.Sprintf(format, args...), NoBackendData{Delivered: delivered})
}

// NewShuttingDownError returns a -32007 error whose data says whether the
// call had reached whoever executes it (the NoBackendData shape,
// {"delivered":bool}). Delivered true: the bridge stopped with the call in
// the backend's hands, so it may have run; check before retrying it.
func NewShuttingDownError(delivered bool, format string, args ...any) *Error {
	return NewError(CodeShuttingDown, fmt.Sprintf(format, args...), NoBackendData{Delivered: delivered})
}

// Delivered reports data.delivered of a -32002 or -32007 error; ok is false
// for other errors and when the error carries no such data.
func Delivered(err error) (delivered, ok bool) {
	var e *Error
	if !errors.As(err, &e) || (e.Code != CodeNoBackend && e.Code != CodeShuttingDown) || len(e.Data) == 0 {
		return false, false
	}
	var d NoBackendData
	if json.Unmarshal(e.Data, &d) != nil {
		return false, false
	}
	return d.Delivered, true
}

// NoBackend decodes the data of a -32002 error; ok is false for other errors
// and for a -32002 without the data (e.g. from an older host peer).
func NoBackend(err error) (d NoBackendData, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNoBackend || len(e.Data) == 0 {
		return d, false
	}
	return d, json.Unmarshal(e.Data, &d) == nil
}

func mustRaw(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"marshalError": err.Error()})
	}
	return b
}

// UpstreamErrorData is the data of a -32006 error: the Enreach REST
// upstream's HTTP status (0: no answer) and its body, as JSON when it was
// JSON, else as a JSON string (cut at a few KiB).
type UpstreamErrorData struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// OverloadedData is the data of a -32003 error: which limit refused the
// call, and for the call rate, how long until a call is admitted again.
type OverloadedData struct {
	Limit        string `json:"limit"`                  // LimitRate or LimitInFlight
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"` // LimitRate only: wait at least this long
}

// OverloadedData.Limit values.
const (
	LimitRate     = "rate"     // the session's call rate (--max-call-rate)
	LimitInFlight = "inflight" // the session's concurrent calls (--max-inflight)
)

// NewResumeRefusedError returns the -32004 for a bridge.hello resuming
// session id without its resume token (the same on one node and in a
// cluster).
func NewResumeRefusedError(id string) *Error {
	return Errorf(CodeUnauthorized,
		"session %s is not yours to resume: send the \"resumeToken\" its bridge.hello returned along with \"session\", or leave \"session\" out to start a new session", id)
}
