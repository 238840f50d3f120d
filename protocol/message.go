package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Kind tells what a decoded Message is.
type Kind uint8

const (
	KindInvalid      Kind = iota // not a valid JSON-RPC 2.0 object; Err says why
	KindRequest                  // method and id: must be answered
	KindNotification             // method, no id: never answered
	KindResponse                 // result or error, and id: answers one of our calls
)

// Message is one decoded JSON-RPC 2.0 object. ID is kept as the exact bytes
// the peer sent, so string, negative and beyond-2^53 ids round-trip
// byte-for-byte.
type Message struct {
	Kind   Kind
	ID     json.RawMessage // nil when absent; "null" when sent as null
	Method string
	Params json.RawMessage // nil when absent
	Result json.RawMessage // responses only
	Error  *Error          // responses with an error; for KindInvalid, the error to answer with
	// Received is when the transport read the frame holding the message
	// (zero when unknown). The CIF timeout of a call counts from here, as in
	// CIF, where it starts when the widget posts its message.
	Received time.Time
	// members are where scanFrame found the members of Params (an
	// object), for DecodeRequestParams: valid while Params is the slice
	// they were found in.
	members paramMembers
}

// IsCall reports whether m must be answered (a request or an invalid object).
func (m *Message) IsCall() bool { return m.Kind == KindRequest || m.Kind == KindInvalid }

// Decoded is one WebSocket message: a single object or a batch.
type Decoded struct {
	Batch    bool
	Messages []Message
	// ParseError is set when the message is not valid JSON, or is an empty
	// batch; the whole message is then answered with this error alone.
	ParseError *Error
}

var nullID = json.RawMessage("null")

// Decode parses one WebSocket text message. It never fails: invalid input is
// described by ParseError (whole message) or by messages of KindInvalid
// whose Error is the -32600 to send back under their ID (or null).
//
// The ID, Params and Result of the messages are sub-slices of data, not
// copies: data must not change while the messages are in use.
func Decode(data []byte) Decoded {
	var d Decoded
	decode(&d, data, true)
	return d
}

// DecodeInto is Decode writing into *d (all of it) instead of returning a
// Decoded: a connection's reader decodes every frame, and a Decoded
// returned by value is copied once more on its way to the caller's
// variable.
func DecodeInto(d *Decoded, data []byte) { decode(d, data, true) }

// decode is DecodeInto; fast lets scanFrame take the frames of the common
// shape (false: every object through the jsonv2 path, which the tests
// compare scanFrame against).
func decode(d *Decoded, data []byte, fast bool) {
	*d = Decoded{}
	data = trimJSONSpace(data)
	if len(data) == 0 {
		d.ParseError = notJSON()
		return
	}
	if data[0] == '[' {
		var elems []span
		if err := jsonv2.Unmarshal(data, &elems, lenient); err != nil {
			d.ParseError = notJSON()
			return
		}
		if len(elems) == 0 {
			d.ParseError = &Error{Code: CodeInvalidRequest, Message: "invalid request: empty batch"}
			return
		}
		d.Batch, d.Messages = true, make([]Message, len(elems))
		for i, e := range elems {
			decodeOne(&d.Messages[i], e.in(data), fast)
		}
		return
	}
	if data[0] != '{' {
		// Not an object or a batch: a JSON scalar is an invalid request,
		// anything else is not JSON at all.
		if !json.Valid(data) {
			d.ParseError = notJSON()
			return
		}
		d.Messages = []Message{invalid(nil, "expected a JSON object")}
		return
	}
	var fw wireObject
	if fast && scanFrame(data, &fw) {
		d.Messages = make([]Message, 1)
		fromWire(&d.Messages[0], data, &fw)
		return
	}
	w := wireObjects.Get().(*wireObject)
	defer func() {
		*w = wireObject{} // Other may point into data: keep nothing
		wireObjects.Put(w)
	}()
	if err := jsonv2.Unmarshal(data, w, envelopeOptions); err != nil {
		if errors.Is(err, jsontext.ErrDuplicateName) && json.Valid(data) {
			d.Messages = []Message{duplicateMember(err)}
			return
		}
		// Every member is a raw value, so any other error on an object is
		// a syntax error: the message is not JSON.
		d.ParseError = notJSON()
		return
	}
	d.Messages = make([]Message, 1)
	fromWire(&d.Messages[0], data, w)
}

// wireObjects recycles the envelopes Decode fills (the decoder needs a
// pointer, so one would escape per message): fromWire copies out of it
// only slices of data and strings.
var wireObjects = sync.Pool{New: func() any { return new(wireObject) }}

// knownMethods interns the method names this bridge serves or sends, so
// that decoding one of them allocates no string: a plain JSON string (no
// escapes) that matches is the constant itself.
var knownMethods = func() map[string]string {
	m := map[string]string{}
	for _, name := range WidgetMethods {
		m[name] = name
	}
	for _, spec := range CIFMethods {
		if spec.Method != "" {
			m[spec.Method] = spec.Method
		}
	}
	return m
}()

// methodName decodes the JSON string method (it starts with a quote).
func methodName(method []byte) (string, bool) {
	if len(method) >= 2 && method[len(method)-1] == '"' && bytes.IndexByte(method, '\\') < 0 {
		if name, ok := knownMethods[string(method[1:len(method)-1])]; ok {
			return name, true
		}
	}
	var name string
	if jsonv2.Unmarshal(method, &name, lenient) != nil {
		return "", false
	}
	return name, true
}

// envelopeOptions decode a JSON-RPC object: member names match exactly
// (JSON-RPC's are lowercase; "METHOD" is not "method") and a name given
// twice is refused, so that no two parsers can disagree on which "method"
// or "id" a message has.
var envelopeOptions = jsonv2.JoinOptions(
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(true), // the transport refuses invalid UTF-8 (close 1007)
)

func duplicateMember(err error) Message {
	var se *jsontext.SyntacticError
	name := ""
	if errors.As(err, &se) {
		name = se.JSONPointer.LastToken()
	}
	return invalid(nil, fmt.Sprintf("member %q appears twice", name))
}

func notJSON() *Error {
	return &Error{Code: CodeParseError, Message: "parse error: the message is not valid JSON"}
}

type wireObject struct {
	JSONRPC span `json:"jsonrpc"`
	ID      span `json:"id"`
	Method  span `json:"method"`
	Params  span `json:"params"`
	Result  span `json:"result"`
	Error   span `json:"error"`
	// Other holds the members with other names (rare: JSON-RPC has no
	// others), to refuse those that differ from ours only in case.
	Other jsontext.Value `json:",embed"`
	// members are the members of Params' object, when scanFrame read the
	// frame (offsets into the frame until fromWire makes them Params').
	members paramMembers `json:"-"`
}

// memberNames are JSON-RPC 2.0's member names.
var memberNames = []string{"jsonrpc", "id", "method", "params", "result", "error"}

// miscased returns the first member of other whose name is one of
// JSON-RPC's in another case ("METHOD", "Id"), or "".
func miscased(other jsontext.Value) string {
	if len(other) == 0 {
		return ""
	}
	var names map[string]jsontext.Value
	if jsonv2.Unmarshal(other, &names, lenient) != nil {
		return ""
	}
	for name := range names {
		for _, want := range memberNames {
			if strings.EqualFold(name, want) {
				return name
			}
		}
	}
	return ""
}

// span is where a member's value lies in the text being decoded, so that a
// Message can point into the frame instead of holding a copy of each member
// (what jsontext.Value's UnmarshalJSON makes). The zero span is an absent
// member.
type span struct{ start, end int64 }

// UnmarshalJSONFrom records the offsets of the value dec reads.
func (s *span) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	s.end = dec.InputOffset()
	s.start = s.end - int64(len(v))
	return nil
}

// in returns the value's bytes in data, the text that was decoded; nil when
// the member was absent.
func (s span) in(data []byte) json.RawMessage {
	if s.end == 0 {
		return nil
	}
	return data[s.start:s.end:s.end]
}

func invalid(id json.RawMessage, why string) Message {
	if !validID(id) {
		id = nullID
	}
	return Message{Kind: KindInvalid, ID: id, Error: &Error{Code: CodeInvalidRequest, Message: "invalid request: " + why}}
}

// validID accepts a string, a number or null, as JSON-RPC 2.0 does.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	switch c := id[0]; {
	case c == '"', c == 'n':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		return true
	}
	return false
}

// decodeOne decodes one element of a batch into *m (zero).
func decodeOne(m *Message, data []byte, fast bool) {
	data = trimJSONSpace(data)
	if len(data) == 0 || data[0] != '{' {
		*m = invalid(nil, "expected a JSON object")
		return
	}
	var w wireObject
	if fast && scanFrame(data, &w) {
		fromWire(m, data, &w)
		return
	}
	w = wireObject{} // what scanFrame wrote before it gave up
	if err := jsonv2.Unmarshal(data, &w, envelopeOptions); err != nil {
		if errors.Is(err, jsontext.ErrDuplicateName) {
			*m = duplicateMember(err)
			return
		}
		*m = invalid(nil, "not a JSON object")
		return
	}
	fromWire(m, data, &w)
}

// fromWire classifies one JSON-RPC object, decoded from data, into *m: a
// zero Message, in the slice Decode returns (written in place, field by
// field, rather than built aside and copied in whole).
func fromWire(m *Message, data []byte, w *wireObject) {
	if why, id := classify(m, data, w); why != "" {
		*m = invalid(id, why)
	}
}

// classify is fromWire: it fills *m, or says why the object is an invalid
// request and under which id to answer it (m is then left to the caller).
func classify(m *Message, data []byte, w *wireObject) (why string, id json.RawMessage) {
	id, params, result := w.ID.in(data), w.Params.in(data), w.Result.in(data)
	jsonrpc, method, errObj := w.JSONRPC.in(data), w.Method.in(data), w.Error.in(data)
	if len(id) > 0 && !validID(id) {
		return `"id" must be a string, a number or null`, nil
	}
	if name := miscased(w.Other); name != "" {
		return fmt.Sprintf("member names are case-sensitive: %q is not a JSON-RPC member (write it in lowercase, once)", name), id
	}
	if string(jsonrpc) != `"2.0"` {
		return `"jsonrpc" must be exactly "2.0"`, id
	}
	if len(method) > 0 {
		if len(result) > 0 || len(errObj) > 0 {
			return `a request cannot carry "result" or "error"`, id
		}
		if method[0] != '"' {
			return `"method" must be a string`, id
		}
		name, ok := methodName(method)
		if !ok {
			return `"method" must be a string`, id
		}
		if name == "" {
			return `"method" must not be empty`, id
		}
		if len(params) > 0 && params[0] != '{' && params[0] != '[' {
			return `"params" must be an object or an array`, id
		}
		m.Kind, m.ID, m.Method, m.Params = KindRequest, id, name, params
		if len(id) == 0 {
			m.Kind = KindNotification
		}
		if w.members.n > 0 && len(params) > 0 && params[0] == '{' {
			m.members = w.members
			m.members.of(params)
		}
		return "", nil
	}
	// A response to one of our calls.
	if len(id) == 0 {
		return `missing "method"`, nil
	}
	if (len(result) > 0) == (len(errObj) > 0) {
		return `a response carries exactly one of "result" and "error"`, id
	}
	if len(errObj) > 0 {
		var e Error
		if err := json.Unmarshal(errObj, &e); err != nil || e.Message == "" && e.Code == 0 {
			return `"error" must be an object with "code" and "message"`, id
		}
		m.Error = &e
	}
	m.Kind, m.ID, m.Result = KindResponse, id, result
	return "", nil
}

// AppendResponse appends a response object for id to buf. Exactly one of
// result and rpcErr is used (rpcErr wins); a nil result encodes as null. The
// id is written byte-for-byte; a missing id is written as null.
func AppendResponse(buf []byte, id json.RawMessage, result json.RawMessage, rpcErr *Error) []byte {
	if len(id) == 0 {
		id = nullID
	}
	// Grow once: appending piece by piece to a nil buf grew it three times.
	n := len(`{"jsonrpc":"2.0","id":,"result":null}`) + len(id) + len(result)
	if rpcErr != nil {
		n += len(`{"code":-32000,"message":"","data":}`) + len(rpcErr.Message) + len(rpcErr.Data)
	}
	buf = slices.Grow(buf, n)
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = append(buf, id...)
	if rpcErr != nil {
		buf = append(buf, `,"error":`...)
		buf = appendError(buf, rpcErr)
	} else {
		buf = append(buf, `,"result":`...)
		if len(result) == 0 {
			buf = append(buf, "null"...)
		} else {
			buf = append(buf, result...)
		}
	}
	return append(buf, '}')
}

func appendError(buf []byte, e *Error) []byte {
	code := e.Code
	if code == 0 {
		code = CodeInternal
	}
	buf = append(buf, `{"code":`...)
	buf = strconv.AppendInt(buf, code, 10)
	buf = append(buf, `,"message":`...)
	msg, _ := json.Marshal(e.Message)
	buf = append(buf, msg...)
	if len(e.Data) > 0 {
		buf = append(buf, `,"data":`...)
		buf = append(buf, e.Data...)
	}
	return append(buf, '}')
}

// AppendRequest appends a request (id set) or notification (id nil) to buf.
// params must be a JSON object or array, or nil.
func AppendRequest(buf []byte, id json.RawMessage, method string, params json.RawMessage) []byte {
	buf = append(buf, `{"jsonrpc":"2.0"`...)
	if len(id) > 0 {
		buf = append(buf, `,"id":`...)
		buf = append(buf, id...)
	}
	buf = append(buf, `,"method":`...)
	m, _ := json.Marshal(method)
	buf = append(buf, m...)
	if len(params) > 0 {
		buf = append(buf, `,"params":`...)
		buf = append(buf, params...)
	}
	return append(buf, '}')
}

// Raw marshals v for use as params or result. A json.RawMessage is returned
// as is.
func Raw(v any) (json.RawMessage, error) {
	if r, ok := v.(json.RawMessage); ok {
		return r, nil
	}
	return json.Marshal(v)
}

// trimJSONSpace trims the four whitespace characters JSON allows (RFC 8259
// §2); bytes.TrimSpace would also drop Unicode spaces that make a text
// invalid JSON.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
