package protocol

import (
	"bytes"
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
func unmarshalStrict(data []byte, v any) error { return unmarshalWith(data, v, strict) }

// unmarshalWith is unmarshalStrict with other options (strict among them).
func unmarshalWith(data []byte, v any, opts jsonv2.Options) error {
	err := jsonv2.Unmarshal(data, v, opts)
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

// ScanFlatObject reads the JSON object in data and calls member for each of
// its members in document order; a name given twice comes twice (the caller
// keeps the last, as encoding/json does). name is unquoted; value is the
// member's JSON text, a nested object or array whole (see StringBytes for a
// string's content). Both are valid only during the call. Nothing may
// follow the object but whitespace; an error from member stops the scan.
// It is the record-body reader of the emulator's create and update, which
// packs a body into a stored record without building a map of it.
func ScanFlatObject(data []byte, member func(name []byte, value jsontext.Value) error) error {
	fd := flatPool.Get().(*flatDecoder)
	defer flatPool.Put(fd)
	fd.buf.Reset()
	fd.buf.Write(data)
	fd.dec.Reset(&fd.buf, lenient)
	defer fd.dec.Reset(&fd.empty) // drop the reference to data
	dec := &fd.dec
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return errors.New("expected a JSON object")
	}
	for dec.PeekKind() != '}' {
		quoted, err := dec.ReadValue()
		if err != nil {
			return err
		}
		name, err := StringBytes(quoted)
		if err != nil {
			return err
		}
		val, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if err := member(name, val); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return err
	}
	// Nothing may follow the object but whitespace.
	if _, err := dec.ReadToken(); err == nil {
		return errors.New("invalid JSON: data after the object")
	} else if !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// StringBytes returns the content of the JSON string literal v as
// encoding/json v1 decodes it (invalid UTF-8 becomes U+FFFD). Without
// escapes it is a slice of v itself, no copy.
func StringBytes(v jsontext.Value) ([]byte, error) {
	if raw, ok := simpleString(v); ok {
		return raw, nil
	}
	s, err := unquote(v)
	return []byte(s), err
}

// flatDecoder is a reusable decoder for ScanFlatObject (the hot path of
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

// errNotFlat is ScanValidFlatObject's error when data turns out not to be
// valid JSON after all (its caller broke the contract).
var errNotFlat = errors.New("invalid JSON: not a JSON object")

// ScanValidFlatObject is ScanFlatObject for data the caller knows is one
// valid JSON value: decoded into a json.RawMessage by a validating decoder
// (encoding/json, jsonv2, DecodeParams) or checked with json.Valid. It does
// not validate again; it only finds where each member begins and ends, a
// third of ScanFlatObject's work on a record body. On valid JSON it reports
// exactly what ScanFlatObject reports. On anything else it returns an
// error or members that mean nothing, but it never reads past data and
// always ends.
func ScanValidFlatObject(data []byte, member func(name []byte, value jsontext.Value) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errors.New("expected a JSON object")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return errNotFlat
		}
		end := stringEnd(data, i)
		if end < 0 {
			return errNotFlat
		}
		name, err := StringBytes(jsontext.Value(data[i:end]))
		if err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return errNotFlat
		}
		i = skipSpace(data, i+1)
		if end = valueEnd(data, i); end < 0 {
			return errNotFlat
		}
		if err := member(name, jsontext.Value(data[i:end:end])); err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return errNotFlat
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return nil
		default:
			return errNotFlat
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal that starts at
// data[i] (a '"'), or -1 when it does not end.
func stringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		if j = quoteOrEscapeEnd(data, j); j == len(data) {
			break
		}
		switch data[j] {
		case '\\':
			j++ // the escaped byte; a \uXXXX's digits need no care
		case '"':
			return j + 1
		}
	}
	return -1
}

// scanStop marks the bytes the trusting scans stop at: in a string
// (stopString) a quote or a backslash, in a container (stopContainer) a
// quote or a bracket.
var scanStop = func() (t [256]uint8) {
	t['"'], t['\\'] = stopString|stopContainer, stopString
	for _, c := range "{}[]" {
		t[c] |= stopContainer
	}
	return t
}()

const (
	stopString uint8 = 1 << iota
	stopContainer
)

// valueEnd returns the index just past the JSON value that starts at
// data[i], or -1 when there is none.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			for j < len(data) && scanStop[data[j]]&stopContainer == 0 {
				j++
			}
			if j == len(data) {
				break
			}
			switch data[j] {
			case '"':
				e := stringEnd(data, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i // a number, true, false or null
	for j < len(data) && !isSpace(data[j]) && data[j] != ',' && data[j] != '}' && data[j] != ']' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
