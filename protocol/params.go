package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// HelloParams are the params of bridge.hello. Every field is optional.
type HelloParams struct {
	Role         string `json:"role,omitempty"`         // "widget" (default)
	Session      string `json:"session,omitempty"`      // resume this session
	ResumeToken  string `json:"resumeToken,omitempty"`  // the resumeToken the session's first bridge.hello returned; required with Session
	Profile      string `json:"profile,omitempty"`      // ProfileCIF1 or ProfileCIF2
	Client       string `json:"client,omitempty"`       // free text for logs, e.g. "softphone/1.2"
	EnreachToken string `json:"enreachToken,omitempty"` // per-session Enreach bearer token; never logged
}

// HelloResult is the result of bridge.hello.
type HelloResult struct {
	Session   string `json:"session"`
	Profile   string `json:"profile"`
	TimeoutMs int64  `json:"timeoutMs"`
	Version   string `json:"version"`
	Resumed   bool   `json:"resumed,omitempty"`
	// ResumeToken is the session's secret: send it with "session" in a
	// later bridge.hello to resume the session. Never logged.
	ResumeToken string `json:"resumeToken"`
}

// RecordParams name one record: cif.deleterecord, and the base of others.
type RecordParams struct {
	EntityName string `json:"entityName"`
	EntityID   string `json:"entityId"`
}

// CreateRecordParams are the params of cif.createrecord. Value is the record
// as a JSON object; a JSON string holding an object (what CIF's createRecord
// takes) is accepted too and normalised by Validate.
type CreateRecordParams struct {
	EntityName string          `json:"entityName"`
	Value      json.RawMessage `json:"value"`
}

// RetrieveRecordParams are the params of cif.retrieverecord.
type RetrieveRecordParams struct {
	EntityName      string `json:"entityName"`
	EntityID        string `json:"entityId"`
	QueryParameters string `json:"queryParameters,omitempty"` // "?$select=…&$expand=…"
}

// UpdateRecordParams are the params of cif.updaterecord.
type UpdateRecordParams struct {
	EntityName string          `json:"entityName"`
	EntityID   string          `json:"entityId"`
	Value      json.RawMessage `json:"value"`
}

// SearchParams are the params of cif.search and cif.searchandopenrecords.
type SearchParams struct {
	EntityName      string `json:"entityName"`
	QueryParameters string `json:"queryParameters,omitempty"` // "?$select=…&$filter=…&$top=…"
	SearchOnly      bool   `json:"searchOnly,omitempty"`
}

// EntityMetadataParams are the params of cif.getEntityMetadata.
type EntityMetadataParams struct {
	EntityName string   `json:"entityName"`
	Attributes []string `json:"attributes,omitempty"`
}

// ValueParams carry one value: cif.setclicktoact (bool), cif.setmode (0, 1
// or 2), cif.setwidth (>= 0).
type ValueParams struct {
	Value json.RawMessage `json:"value"`
}

// CreateResult is the CIF result of create, update and delete.
type CreateResult struct {
	EntityType string `json:"entityType"`
	ID         string `json:"id"`
}

// EventParams are the params of an event request bridge → widget.
type EventParams struct {
	EventData json.RawMessage `json:"eventData"`
}

// LateParams are the params of the bridge.late notification.
type LateParams struct {
	RequestID json.RawMessage `json:"requestId"` // the widget's request id, as it sent it
	AttemptID string          `json:"attemptId"` // the timed-out attempt
	Method    string          `json:"method"`    // the attempt's, e.g. "cif.createrecord"
	// WidgetMethod is the widget call the attempt served, e.g.
	// "enreach.xrm.createRecord" for an attempt of the retry engine (its
	// Method is then "cif.createrecord"); omitted when it is Method.
	WidgetMethod string          `json:"widgetMethod,omitempty"`
	Outcome      string          `json:"outcome"`          // "success" or "failure"
	LateByMs     int64           `json:"lateByMs"`         // how long after the CIF deadline the answer came
	Result       json.RawMessage `json:"result,omitempty"` // when success
	Error        *Error          `json:"error,omitempty"`  // when failure
}

// Outcomes as CIF names them.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// LedgerParams are the params of the bridge.ledger notification. Entry is
// the ledger entry as GET /api/v1/ledger/{id} returns it.
type LedgerParams struct {
	Entry LedgerEntry `json:"entry"`
}

// HostHelloParams are the params of host.hello. Sessions is "*" (every
// session) or a list of session ids.
type HostHelloParams struct {
	Sessions json.RawMessage `json:"sessions"`
	Name     string          `json:"name,omitempty"`
}

// HostHelloResult is the result of host.hello.
type HostHelloResult struct {
	Host     string   `json:"host"`
	Sessions []string `json:"sessions,omitempty"` // nil means every session
	All      bool     `json:"all"`
}

// RaiseEventParams are the params of host.raiseEvent and of the admin
// POST /api/v1/sessions/{id}/events (where Session comes from the path).
type RaiseEventParams struct {
	Session   string          `json:"session,omitempty"`
	EventType string          `json:"eventType"`
	EventData json.RawMessage `json:"eventData,omitempty"`
}

// XrmCreateParams are the params of enreach.xrm.createRecord.
type XrmCreateParams struct {
	EntityLogicalName string          `json:"entityLogicalName"`
	Data              json.RawMessage `json:"data"`
	MaxRetries        *int            `json:"maxRetries,omitempty"` // default 3
	Delay             *int            `json:"delay,omitempty"`      // ms, default 1000
	Idempotent        *bool           `json:"idempotent,omitempty"`
}

// XrmUpdateParams are the params of enreach.xrm.updateRecord.
type XrmUpdateParams struct {
	EntityLogicalName string          `json:"entityLogicalName"`
	ID                string          `json:"id"`
	Data              json.RawMessage `json:"data"`
	MaxRetries        *int            `json:"maxRetries,omitempty"`
	Delay             *int            `json:"delay,omitempty"`
}

// XrmRetrieveParams are the params of enreach.xrm.retrieveRecord.
type XrmRetrieveParams struct {
	EntityLogicalName string `json:"entityLogicalName"`
	ID                string `json:"id"`
	Options           string `json:"options,omitempty"`
	MaxRetries        *int   `json:"maxRetries,omitempty"`
	Delay             *int   `json:"delay,omitempty"`
}

// XrmExecuteParams are the params of enreach.xrm.execute and of the
// BackendExecute attempt.
type XrmExecuteParams struct {
	Data     json.RawMessage `json:"data,omitempty"`
	MetaData XrmMetaData     `json:"metaData"`
}

// XrmMetaData is what getMetadata() of an Xrm.WebApi.online.execute request
// returns.
type XrmMetaData struct {
	BoundParameter *string                    `json:"boundParameter,omitempty"` // nil/absent: CRUD or unbound; "entity": bound
	ParameterTypes map[string]json.RawMessage `json:"parameterTypes,omitempty"`
	OperationType  int                        `json:"operationType"` // XrmOpAction 0, XrmOpFunction 1, XrmOpCRUD 2
	OperationName  string                     `json:"operationName"`
}

// XrmCreateResult is the result of enreach.xrm.createRecord.
type XrmCreateResult struct {
	EntityType        string `json:"entityType"`
	ID                string `json:"id"`
	Attempts          int    `json:"attempts"`
	PossibleDuplicate bool   `json:"possibleDuplicate"`
	LedgerID          string `json:"ledgerId,omitempty"`
}

// XrmUpdateResult is the result of enreach.xrm.updateRecord.
type XrmUpdateResult struct {
	EntityType        string `json:"entityType"`
	ID                string `json:"id"`
	Attempts          int    `json:"attempts"`
	PossiblyReapplied bool   `json:"possiblyReapplied"`
}

// ExecuteQueryParams are the params of enreach.executeQuery.
type ExecuteQueryParams struct {
	Query    string          `json:"query"`
	PostData json.RawMessage `json:"postData,omitempty"`
	Method   string          `json:"method,omitempty"`
}

// SetANumberParams are the params of enreach.setANumber.
type SetANumberParams struct {
	ANumber string `json:"aNumber"`
}

// DecodeParams unmarshals params (which must be a JSON object) into v,
// refusing unknown fields, and returns a -32602 error that names the problem.
func DecodeParams(params json.RawMessage, v any) error {
	p, err := paramsObject(params)
	if err != nil {
		return err
	}
	return unmarshalStrict(p, v)
}

// paramsObject is params as the object the decoders read: absent or null
// params are an empty object, anything else but an object is a -32602.
func paramsObject(params json.RawMessage) ([]byte, error) {
	p := bytes.TrimSpace(params)
	if len(p) == 0 || string(p) == "null" {
		return []byte("{}"), nil
	}
	if p[0] != '{' {
		return nil, InvalidParams("params must be a JSON object with named members")
	}
	return p, nil
}

func jsonKind(goType string) string {
	switch {
	case goType == "string", goType == "*string":
		return "string"
	case goType == "bool", goType == "*bool":
		return "boolean"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "number"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	default:
		return "object"
	}
}

// RequireEntity checks an entity logical name.
func RequireEntity(field, name string) error {
	if blank(name) {
		return InvalidParams("%q is blank: provide the entity logical name, e.g. \"contact\"", field)
	}
	return nil
}

// RequireID checks a record id.
func RequireID(field, id string) error {
	if blank(id) {
		return InvalidParams("%q is blank: provide the record id (a GUID)", field)
	}
	return nil
}

// NormalizeObject returns v as a JSON object. A JSON string holding an object
// (CIF's createRecord takes the data as a string) is unwrapped.
func NormalizeObject(field string, v json.RawMessage) (json.RawMessage, error) {
	return normalizeObject(field, v, "provide the record's columns as a JSON object", "must be a JSON object of columns")
}

// normalizeObject is NormalizeObject and NormalizeInput: v as a JSON object,
// a JSON string holding one unwrapped; missing and notObject end the
// -32602 messages of an absent v and of one that is no object.
func normalizeObject(field string, v json.RawMessage, missing, notObject string) (json.RawMessage, error) {
	v = trimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil, InvalidParams("%q is missing: %s", field, missing)
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, InvalidParams("%q: %v", field, err)
		}
		inner := bytes.TrimSpace([]byte(s))
		if len(inner) == 0 || inner[0] != '{' || !json.Valid(inner) {
			return nil, InvalidParams("%q is a string that does not hold a JSON object", field)
		}
		return inner, nil
	}
	if v[0] != '{' {
		return nil, InvalidParams("%q %s", field, notObject)
	}
	return v, nil
}

// blank reports whether s is empty or only white space
// (strings.TrimSpace(s) == ""). A name or id that starts with a printable
// ASCII byte, as every real one does, is not: no trimming needed to tell.
func blank(s string) bool {
	if s != "" && graphicASCII(s[0]) {
		return false
	}
	return strings.TrimSpace(s) == ""
}

// trimSpace is bytes.TrimSpace, without its work for a text that starts
// and ends with a printable ASCII byte (a record value's '{' and '}'),
// which it would return as it is.
func trimSpace(b []byte) []byte {
	if len(b) > 0 && graphicASCII(b[0]) && graphicASCII(b[len(b)-1]) {
		return b
	}
	return bytes.TrimSpace(b)
}

// graphicASCII reports whether c is a printable ASCII byte: never white
// space, in ASCII or as part of a multi-byte Unicode space.
func graphicASCII(c byte) bool { return c > ' ' && c < utf8.RuneSelf }

// Retry bounds for enreach.xrm.* (validated by the retry engine).
const (
	DefaultMaxRetries = 3
	DefaultDelayMs    = 1000
	MaxMaxRetries     = 20
	MaxDelayMs        = 60_000
)

// RetrySettings resolves and validates maxRetries and delay.
func RetrySettings(maxRetries, delay *int) (retries int, delayMs int, err error) {
	retries, delayMs = DefaultMaxRetries, DefaultDelayMs
	if maxRetries != nil {
		retries = *maxRetries
	}
	if delay != nil {
		delayMs = *delay
	}
	if retries < 0 || retries > MaxMaxRetries {
		return 0, 0, InvalidParams("\"maxRetries\" must be between 0 and %d, got %d", MaxMaxRetries, retries)
	}
	if delayMs < 0 || delayMs > MaxDelayMs {
		return 0, 0, InvalidParams("\"delay\" must be between 0 and %d ms, got %d", MaxDelayMs, delayMs)
	}
	return retries, delayMs, nil
}

// SessionIDValid reports whether s is usable as a session id: 1–64 characters
// of [A-Za-z0-9_-] (safe as a NATS subject token and in a file name).
func SessionIDValid(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// strictAliased is strict, decoding a json.RawMessage member as a slice of
// the input itself instead of a copy (json.RawMessage's own UnmarshalJSON
// copies).
var strictAliased = jsonv2.JoinOptions(strict, jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *json.RawMessage) error {
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*v = json.RawMessage(val[:len(val):len(val)])
	return nil
})))

// DecodeParamsAliased is DecodeParams whose json.RawMessage members are
// slices of params, not copies: for params that nothing changes for as
// long as v is used (a widget frame is read into a buffer of its own and
// never changed; see rpcconn). Appending to such a member copies it first
// (its capacity ends with it).
func DecodeParamsAliased(params json.RawMessage, v any) error {
	p, err := paramsObject(params)
	if err != nil {
		return err
	}
	return unmarshalWith(p, v, strictAliased)
}

// DecodeValidParams is DecodeParamsAliased for params known to be one
// valid JSON value: a member of a frame Decode accepted, which validated
// the whole frame. For the record params of the CIF CRUD calls
// (CreateRecordParams, UpdateRecordParams, RetrieveRecordParams,
// RecordParams) it does not validate again: when every member is one of
// the type's own, spelled exactly, given once, a string member a plain
// string (no escape, valid UTF-8) and a raw member an object or a string,
// it only finds where each member lies. Anything else, and every other
// type, goes through DecodeParamsAliased, so the result and every error
// are DecodeParamsAliased's (FuzzDecodeValidParams).
func DecodeValidParams(params json.RawMessage, v any) error {
	switch p := v.(type) {
	case *CreateRecordParams:
		var out CreateRecordParams
		if trustedFields(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "value", raw: &out.Value}}) {
			*p = out
			return nil
		}
	case *UpdateRecordParams:
		var out UpdateRecordParams
		if trustedFields(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "entityId", str: &out.EntityID}, {name: "value", raw: &out.Value}}) {
			*p = out
			return nil
		}
	case *RetrieveRecordParams:
		var out RetrieveRecordParams
		if trustedFields(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "entityId", str: &out.EntityID}, {name: "queryParameters", str: &out.QueryParameters}}) {
			*p = out
			return nil
		}
	case *RecordParams:
		var out RecordParams
		if trustedFields(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "entityId", str: &out.EntityID}}) {
			*p = out
			return nil
		}
	}
	return DecodeParamsAliased(params, v)
}

// trustedField is one member DecodeValidParams fills: a string (str) or a
// raw value left as a slice of the params (raw).
type trustedField struct {
	name string
	str  *string
	raw  *json.RawMessage
}

// trustedFields fills fields from params, a valid JSON object, when its
// members are of the shape DecodeValidParams describes; false when not
// (fields may then hold part of params: the caller drops them).
func trustedFields(params []byte, fields []trustedField) bool {
	if len(params) == 0 || params[0] != '{' {
		return false
	}
	var seen uint32
	err := ScanValidFlatObject(params, func(name []byte, value jsontext.Value) error {
		return trustField(fields, &seen, name, json.RawMessage(value))
	})
	return err == nil
}

// trustField fills the field named name from value; errNotTrusted when
// there is no such field, it came before (seen), or value is not of the
// trusted shape.
func trustField(fields []trustedField, seen *uint32, name []byte, value json.RawMessage) error {
	for i := range fields {
		f := &fields[i]
		if string(name) != f.name {
			continue
		}
		if *seen&(1<<i) != 0 {
			return errNotTrusted
		}
		*seen |= 1 << i
		switch {
		case f.str != nil:
			s, ok := simpleString(jsontext.Value(value))
			if !ok {
				return errNotTrusted
			}
			*f.str = intern(s)
		case len(value) > 0 && (value[0] == '{' || value[0] == '"'):
			*f.raw = value
		default:
			return errNotTrusted
		}
		return nil
	}
	return errNotTrusted
}

// errNotTrusted stops trustedFields' scan: the params go to the validating
// decoder.
var errNotTrusted = errors.New("not of the trusted shape")

// internedNames is a small lossy cache of the short strings trusted params
// decode (entity names, mostly): a repeated "contact" costs no allocation,
// as in the validating decoder, which keeps such a cache per decoder. Each
// slot holds the last string hashed to it; at most 256 strings of at most
// 32 bytes stay alive.
var internedNames [256]atomic.Pointer[string]

// intern returns b as a string, the cached one when it is there.
func intern(b []byte) string {
	if len(b) == 0 || len(b) > 32 {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &internedNames[h%uint32(len(internedNames))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}
