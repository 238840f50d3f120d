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

// errNotObject is the trusting scans' error for data that does not start
// with an object.
var errNotObject = errors.New("expected a JSON object")

// ScanValidFlatObject is ScanFlatObject for data the caller knows is one
// valid JSON value: decoded into a json.RawMessage by a validating decoder
// (encoding/json, jsonv2, DecodeParams) or checked with json.Valid. It does
// not validate again; it only finds where each member begins and ends, a
// third of ScanFlatObject's work on a record body. On valid JSON it reports
// exactly what ScanFlatObject reports. On anything else it returns an
// error or members that mean nothing, but it never reads past data and
// always ends. ValidMembers is the same scan as an iterator.
func ScanValidFlatObject(data []byte, member func(name []byte, value jsontext.Value) error) error {
	m := ValidMembers(data)
	for mem, ok := m.Next(); ok; mem, ok = m.Next() {
		if err := member(mem.Name, mem.Value); err != nil {
			return err
		}
	}
	return m.Err()
}

// ValidMemberScan lists the members of a JSON object known to be valid,
// as ScanValidFlatObject does, one Next at a time: no function value is
// called per member, and a string value's content comes with it when it
// needs no unquoting, found while looking for the string's end, so that
// the caller need not look at the string again. The emulator's create
// reads a record body with it.
//
//	m := protocol.ValidMembers(body)
//	for mem, ok := m.Next(); ok; mem, ok = m.Next() {
//		use(mem.Name, mem.Value)
//	}
//	if err := m.Err(); err != nil { … }
type ValidMemberScan struct {
	data []byte
	next int // where the next member's name starts; -1 when none is left
	err  error
}

// ValidMember is one member of a ValidMemberScan. Its slices are valid
// as long as the scanned data is unchanged (slices of it, except a name
// that needed unquoting).
type ValidMember struct {
	Name  []byte         // unquoted
	Value jsontext.Value // its JSON text, a nested object or array whole
	// Plain reports a string value StringBytes would return as a slice
	// of the literal (no escape, valid UTF-8); Text is then its content.
	Plain bool
	Text  []byte
}

// ValidMembers starts a scan of data, a JSON object the caller knows is
// valid (see ScanValidFlatObject for what may be trusted).
func ValidMembers(data []byte) ValidMemberScan {
	m := ValidMemberScan{data: data, next: -1}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		m.err = errNotObject
		return m
	}
	if i = skipSpace(data, i+1); i >= len(data) || data[i] != '}' {
		m.next = i
	}
	return m
}

// Next returns the next member; false when there is none left or the
// data broke the contract (Err says which). The member is returned, not
// kept in m, so that a scan on the stack costs no write barrier.
func (m *ValidMemberScan) Next() (mem ValidMember, ok bool) {
	data, i := m.data, m.next
	if i < 0 {
		return mem, false
	}
	m.next = -1
	if i >= len(data) || data[i] != '"' {
		m.err = errNotFlat
		return mem, false
	}
	end, plain := plainStringEnd(data, i)
	if end < 0 {
		m.err = errNotFlat
		return mem, false
	}
	if plain {
		mem.Name = data[i+1 : end-1 : end-1]
	} else {
		name, err := StringBytes(jsontext.Value(data[i:end]))
		if err != nil {
			m.err = err
			return mem, false
		}
		mem.Name = name
	}
	i = skipSpace(data, end)
	if i >= len(data) || data[i] != ':' {
		m.err = errNotFlat
		return mem, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '"' {
		if end, plain = plainStringEnd(data, i); plain {
			mem.Plain, mem.Text = true, data[i+1:end-1:end-1]
		}
	} else {
		end = valueEnd(data, i)
	}
	if end < 0 {
		m.err = errNotFlat
		return ValidMember{}, false
	}
	mem.Value = jsontext.Value(data[i:end:end])
	// The member is whole: it is returned even when what follows it is
	// wrong (Err tells after it).
	switch i = skipSpace(data, end); {
	case i >= len(data):
		m.err = errNotFlat
	case data[i] == ',':
		m.next = skipSpace(data, i+1)
	case data[i] != '}':
		m.err = errNotFlat
	}
	return mem, true
}

// Err is why the scan stopped early: nil when every member was listed.
func (m *ValidMemberScan) Err() error { return m.err }

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
	for j := i + 1; ; j++ {
		if j = nextStop(data, j, false); j >= len(data) {
			return -1
		}
		if data[j] == '"' {
			return j + 1
		}
		j++ // a backslash: the escaped byte; a \uXXXX's digits need no care
	}
}

// plainStringEnd is stringEnd that also tells whether the literal is
// plain: no escape and valid UTF-8 (simpleString's test), found on the way
// to its end. ASCII, the common case, needs no second look.
func plainStringEnd(data []byte, i int) (end int, plain bool) {
	escaped, high := false, false
	for j := i + 1; ; j++ {
		// Past a byte above 0x7f utf8.Valid looks at them all: stop only
		// at the quote and the backslashes.
		if j = nextStop(data, j, !high); j >= len(data) {
			return -1, false
		}
		switch data[j] {
		case '"':
			return j + 1, !escaped && (!high || utf8.Valid(data[i+1:j]))
		case '\\':
			escaped = true
			j++ // the escaped byte
		default:
			high = true
		}
	}
}

// scanStop marks the bytes the trusting scans stop at in a container
// (stopContainer): a quote or a bracket. (In a string they look for a
// quote or a backslash eight bytes at a time, nextStop.)
var scanStop = func() (t [256]uint8) {
	for _, c := range "\"{}[]" {
		t[c] |= stopContainer
	}
	return t
}()

const stopContainer uint8 = 1

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
