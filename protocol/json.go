package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The hot path (frames, params, record bodies) decodes with the encoding/json
// v2 engine (github.com/go-json-experiment/json, what Go ships as
// encoding/json/v2): one pass over the text instead of v1's scan-then-decode,
// about 3x faster on a createrecord. The options keep v1's leniency so that
// nothing a widget could send before is refused now: duplicate member names
// (the last wins), invalid UTF-8 and member names matched case-insensitively.
var lenient = jsonv2.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
	jsonv2.MatchCaseInsensitiveNames(true),
)

var strict = jsonv2.JoinOptions(lenient, jsonv2.RejectUnknownMembers(true))

// unmarshalStrict decodes data into v, refusing unknown members, and returns
// a -32602 error that names the member and says what to fix.
func unmarshalStrict(data []byte, v any) error {
	err := jsonv2.Unmarshal(data, v, strict)
	if err == nil {
		return nil
	}
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		field := pointerPath(se.JSONPointer)
		switch {
		case errors.Is(se.Err, jsonv2.ErrUnknownName):
			return InvalidParams("unknown field %q", se.JSONPointer.LastToken())
		case se.GoType != nil && field != "":
			return InvalidParams("%q must be a JSON %s, got %s", field, jsonKind(se.GoType.String()), kindName(se.JSONKind))
		}
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return InvalidParams("params are not valid JSON: %v", syn.Err)
	}
	return InvalidParams("%s", strings.TrimPrefix(err.Error(), "json: "))
}

// pointerPath renders a JSON pointer as the dotted member path v1 used in
// its errors ("/data/x" → "data.x").
func pointerPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "another type"
}

// DecodeFlatObject decodes a JSON object whose members are what
// encoding/json with UseNumber yields for primitives: string, json.Number,
// bool or nil. A member holding an object or an array is reported in deep
// (its value is left out of fields) so the caller can refuse it by name.
// Duplicate names: the last wins. names, when not nil, may return the
// canonical string for a member name (e.g. the attribute name from the
// metadata) so that a stored record does not keep a copy of every name.
// It is the record-body decoder of the emulator's create and update.
func DecodeFlatObject(data []byte, names func(name []byte) (string, bool)) (fields map[string]any, deep map[string]bool, err error) {
	fd := flatPool.Get().(*flatDecoder)
	defer flatPool.Put(fd)
	fd.buf.Reset()
	fd.buf.Write(data)
	fd.dec.Reset(&fd.buf, lenient)
	defer fd.dec.Reset(&fd.empty) // drop the reference to data
	dec := &fd.dec
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, nil, err
	}
	if tok.Kind() != '{' {
		return nil, nil, errors.New("expected a JSON object")
	}
	fields = make(map[string]any, 16)
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil, nil, err
		}
		key, ok := "", false
		if raw, simple := simpleString(name); simple && names != nil {
			key, ok = names(raw)
		}
		if !ok {
			if key, err = unquote(name); err != nil {
				return nil, nil, err
			}
		}
		val, err := dec.ReadValue()
		if err != nil {
			return nil, nil, err
		}
		switch val.Kind() {
		case '{', '[':
			delete(fields, key)
			if deep == nil {
				deep = map[string]bool{}
			}
			deep[key] = true
			continue
		case '"':
			str, err := unquote(val)
			if err != nil {
				return nil, nil, err
			}
			fields[key] = str
		case '0':
			fields[key] = json.Number(val)
		case 't':
			fields[key] = true
		case 'f':
			fields[key] = false
		case 'n':
			fields[key] = nil
		}
		delete(deep, key)
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return nil, nil, err
	}
	// Nothing may follow the object but whitespace.
	if _, err := dec.ReadToken(); err == nil {
		return nil, nil, errors.New("invalid JSON: data after the object")
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return fields, deep, nil
}

// flatDecoder is a reusable decoder for DecodeFlatObject (the hot path of
// every create and update).
type flatDecoder struct {
	buf   bytes.Buffer
	empty bytes.Buffer
	dec   jsontext.Decoder
}

var flatPool = sync.Pool{New: func() any { return new(flatDecoder) }}

// simpleString returns the bytes of a JSON string literal without escapes
// whose content is valid UTF-8 (the common case: no unquoting needed).
func simpleString(v jsontext.Value) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
		return nil, false
	}
	return raw, true
}

// unquote decodes a JSON string literal the way encoding/json v1 did:
// invalid UTF-8 becomes U+FFFD.
func unquote(v jsontext.Value) (string, error) {
	if raw, ok := simpleString(v); ok {
		return string(raw), nil
	}
	var s string
	if err := jsonv2.Unmarshal(v, &s, lenient); err != nil {
		return "", err
	}
	return s, nil
}
