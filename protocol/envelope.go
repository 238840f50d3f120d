package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CIF postMessage envelopes → JSON-RPC 2.0.
//
// The browser recorder (web/recorder.js) captures the real CIF channel, whose
// messages are envelopes, not JSON-RPC. EnvelopeToJSONRPC maps one envelope
// to the JSON-RPC message the bridge would have carried, so a recorded page
// can be replayed against the daemon:
//
//	request   {"messageType":T,"messageData":D,"messageCorrelationId":C}
//	       →  {"jsonrpc":"2.0","id":"C","method":"cif.T'","params":P}
//	  T' is the bridge's spelling of T when they differ only in case (real
//	  pages send "createRecord", the bridge's method is "cif.createrecord";
//	  "getentitymetadata" becomes "cif.getEntityMetadata"), else T.
//	  P is D when D is an object; D parsed when D is a JSON string holding an
//	  object; {} when D is absent or null; {"value":D} for any other value.
//	event     the same envelope where T is a CIF event (one of KnownEvents,
//	          or any "on…" type whose D is a string), sent by the main window
//	       →  {"jsonrpc":"2.0","id":"C","method":"cif.T'","params":{"eventData":E}}
//	  T' is the KnownEvents spelling of T when they differ only in case.
//	  E is D parsed when D is a string holding JSON, else D itself.
//	success   {"messageOutcome":"success","messageData":D,"messageCorrelationId":C}
//	       →  {"jsonrpc":"2.0","id":"C","result":R}
//	  R is D.value when D is an object with a "value" member, else D (null
//	  when absent). R is kept byte-exact: a value CIF sends as a JSON string
//	  (createRecord's '{"entityType","id"}') stays a string.
//	failure   {"messageOutcome":"failure","messageData":D,"messageCorrelationId":C}
//	       →  {"jsonrpc":"2.0","id":"C","error":{"code":K,"message":M,"data":D}}
//	  M is the first non-empty of D.message, D.value.errorMsg, D.errorMsg
//	  (looked up in D parsed when D is a JSON string), else "CIF call failed".
//	  K is -32000 (CodeTimeout) when M is TimeoutMessage, else -32001
//	  (CodeBackend). D is kept byte-exact.
//
// C may be a string or a number; either way the JSON-RPC id is a string.

// ErrNotEnvelope is returned (wrapped) by EnvelopeToJSONRPC for input that is
// not a CIF postMessage envelope.
var ErrNotEnvelope = errors.New("not a CIF postMessage envelope")

// envelope sees which members are present.
type envelope struct {
	MessageType          *string         `json:"messageType"`
	MessageData          json.RawMessage `json:"messageData"`
	MessageCorrelationID json.RawMessage `json:"messageCorrelationId"`
	MessageOutcome       *string         `json:"messageOutcome"`
}

// EnvelopeToJSONRPC maps one CIF postMessage envelope to JSON-RPC 2.0 (see
// the mapping above). Errors wrap ErrNotEnvelope and say what is missing.
func EnvelopeToJSONRPC(msg json.RawMessage) (json.RawMessage, error) {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 || msg[0] != '{' || !json.Valid(msg) {
		return nil, fmt.Errorf("%w: expected a JSON object", ErrNotEnvelope)
	}
	var e envelope
	if err := json.Unmarshal(msg, &e); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotEnvelope, jsonText(err))
	}
	id, err := correlationID(e.MessageCorrelationID)
	if err != nil {
		return nil, err
	}
	data := bytes.TrimSpace(e.MessageData)
	if len(data) == 0 {
		data = nil
	}
	if e.MessageOutcome != nil {
		switch *e.MessageOutcome {
		case OutcomeSuccess:
			return AppendResponse(nil, id, successResult(data), nil), nil
		case OutcomeFailure:
			return AppendResponse(nil, id, nil, failureError(data)), nil
		default:
			return nil, fmt.Errorf("%w: \"messageOutcome\" is %q, want %q or %q", ErrNotEnvelope, *e.MessageOutcome, OutcomeSuccess, OutcomeFailure)
		}
	}
	if e.MessageType == nil || *e.MessageType == "" {
		return nil, fmt.Errorf("%w: neither \"messageType\" nor \"messageOutcome\" is set", ErrNotEnvelope)
	}
	typ := *e.MessageType
	if isEvent(typ, data) {
		ev := data
		if s, ok := jsonString(data); ok && json.Valid([]byte(s)) {
			ev = json.RawMessage(strings.TrimSpace(s))
		}
		if ev == nil {
			ev = json.RawMessage("null")
		}
		params := append([]byte(`{"eventData":`), ev...)
		return AppendRequest(nil, id, EventPrefix+canonical(typ, KnownEvents), append(params, '}')), nil
	}
	return AppendRequest(nil, id, CIFPrefix+canonical(typ, cifMessageTypes), requestParams(data)), nil
}

// cifMessageTypes are the bridge's spellings of the CIF calls' messageTypes
// (the cif.* methods without the prefix).
var cifMessageTypes = []string{
	MessageType(MethodCreateRecord), MessageType(MethodRetrieveRecord), MessageType(MethodUpdateRecord),
	MessageType(MethodDeleteRecord), MessageType(MethodSearch), MessageType(MethodSearchAndOpenRecords),
	MessageType(MethodGetEnvironment), MessageType(MethodOpenForm), MessageType(MethodRefreshForm),
	MessageType(MethodGetEntityMetadata), MessageType(MethodSetClickToAct), MessageType(MethodGetClickToAct),
	MessageType(MethodSetMode), MessageType(MethodGetMode), MessageType(MethodSetWidth), MessageType(MethodGetWidth),
	MessageType(MethodRenderSearchPage),
}

// canonical returns the spelling in known that equals typ up to case, or
// typ when there is none.
func canonical(typ string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, typ) {
			return k
		}
	}
	return typ
}

// correlationID returns the JSON-RPC id (always a JSON string) for a
// messageCorrelationId.
func correlationID(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, fmt.Errorf("%w: \"messageCorrelationId\" is missing", ErrNotEnvelope)
	case raw[0] == '"':
		return raw, nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return strconv.AppendQuote(nil, string(raw)), nil
	}
	return nil, fmt.Errorf("%w: \"messageCorrelationId\" must be a string or a number", ErrNotEnvelope)
}

func isEvent(typ string, data json.RawMessage) bool {
	for _, k := range KnownEvents {
		if strings.EqualFold(k, typ) {
			return true
		}
	}
	_, isString := jsonString(data)
	return isString && len(typ) > 2 && strings.EqualFold(typ[:2], "on")
}

func requestParams(data json.RawMessage) json.RawMessage {
	switch {
	case data == nil || string(data) == "null":
		return json.RawMessage("{}")
	case data[0] == '{':
		return data
	}
	if s, ok := jsonString(data); ok {
		if inner := bytes.TrimSpace([]byte(s)); len(inner) > 0 && inner[0] == '{' && json.Valid(inner) {
			return inner
		}
	}
	return append(append([]byte(`{"value":`), data...), '}')
}

func successResult(data json.RawMessage) json.RawMessage {
	if len(data) > 0 && data[0] == '{' {
		var m struct {
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(data, &m) == nil && len(m.Value) > 0 {
			return m.Value
		}
	}
	return data // nil encodes as null
}

func failureError(data json.RawMessage) *Error {
	obj := data
	if s, ok := jsonString(data); ok {
		obj = json.RawMessage(strings.TrimSpace(s))
	}
	var m struct {
		Message  json.RawMessage `json:"message"`
		ErrorMsg json.RawMessage `json:"errorMsg"`
		Value    struct {
			ErrorMsg json.RawMessage `json:"errorMsg"`
		} `json:"value"`
	}
	msg := ""
	if len(obj) > 0 && obj[0] == '{' && json.Unmarshal(obj, &m) == nil {
		for _, c := range []json.RawMessage{m.Message, m.Value.ErrorMsg, m.ErrorMsg} {
			if s, ok := jsonString(c); ok && s != "" {
				msg = s
				break
			}
		}
	}
	code := int64(CodeBackend)
	switch {
	case msg == TimeoutMessage:
		code = CodeTimeout
	case msg == "":
		msg = "CIF call failed"
	}
	return &Error{Code: code, Message: msg, Data: data}
}

// jsonString decodes raw when it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
