package protocol

import (
	"math"
	"unicode/utf8"
)

// The common frame, decoded in one tight pass.
//
// Decode's general path is the jsonv2 decoder filling a wireObject (spans
// of the six JSON-RPC members, duplicate names refused at every depth). On
// a createrecord frame that costs 1–2 µs on the 2-vCPU test machine, most
// of it the decoder's generic validation. scanFrame does the same for the frame every widget
// sends: one object whose members are JSON-RPC's own names, spelled
// exactly, each once, with values free of escaped object names and nested
// less than maxFastDepth deep. It validates every byte as jsontext does
// (with AllowInvalidUTF8: bytes above 0x7f pass) and checks for duplicate
// names at every depth. Anything else, valid or not (an escape in an
// object name, a surrogate \u escape, an unknown or miscased member, a
// duplicate, a deep value), makes it give up, and Decode takes the general
// path, which then reports what is wrong exactly as before. So scanFrame
// never decides an error: it either returns the spans the general path
// would have returned or says "not mine" (FuzzScanFrame checks both
// halves of that promise).

// maxFastDepth bounds the nesting scanFrame follows (jsontext allows
// 10 000; deeper frames take the general path).
const maxFastDepth = 32

// maxFastNames bounds the object member names scanFrame keeps at once to
// check for duplicates (the names of the objects still open).
const maxFastNames = 128

// frameScanner holds scanFrame's duplicate-name bookkeeping: names[i] are
// the member names of the open objects, the current object's from
// starts[depth-1]; filters[depth-1] has a bit set for each of its names
// (nameBit), so that a new name is compared with the others only when its
// bit is set already (a name appearing twice, or a rare collision).
type frameScanner struct {
	data    []byte
	names   [maxFastNames]nameSpan
	n       int32
	depth   int32
	starts  [maxFastDepth]int32
	filters [maxFastDepth]uint64
	// members, while the frame's "params" value is scanned, records the
	// members of its object (depth 1); nil otherwise.
	members *paramMembers
}

// nameSpan is a member name's offsets in the frame (scanFrame takes
// frames shorter than 2 GiB only: the transport's limit is far below).
type nameSpan struct{ start, end int32 }

// nameBit is a member name's bit in its object's filter: a hash of its
// length and its first and last bytes.
func nameBit(name []byte) uint64 {
	if len(name) == 0 {
		return 1
	}
	h := uint(len(name))*7 + uint(name[0])*3 + uint(name[len(name)-1])
	return 1 << (h & 63)
}

// scanFrame decodes data (trimmed, starting with '{') into w, which must
// be zero, when it is a frame of the common shape; false means "use the
// general path", and w then holds part of a result (zero it before using
// it again). It writes into w as it goes rather than into a copy of its
// own.
func scanFrame(data []byte, w *wireObject) bool {
	if len(data) > math.MaxInt32 {
		return false
	}
	var s frameScanner
	s.data = data
	var seen uint8
	i := skipSpace(data, 1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end := simpleNameEnd(data, i)
		if end < 0 {
			return false
		}
		var field *span
		var bit uint8
		switch string(data[i+1 : end-1]) {
		case "jsonrpc":
			field, bit = &w.JSONRPC, 1
		case "id":
			field, bit = &w.ID, 2
		case "method":
			field, bit = &w.Method, 4
		case "params":
			field, bit = &w.Params, 8
		case "result":
			field, bit = &w.Result, 16
		case "error":
			field, bit = &w.Error, 32
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		if bit == 8 {
			w.members.base = int32(i)
			s.members = &w.members
		}
		vend := s.value(i)
		s.members = nil
		if vend < 0 {
			return false
		}
		*field = span{start: int64(i), end: int64(vend)}
		var more bool
		if i, more = afterValue(data, vend, '}'); !more {
			return i >= 0 && skipSpace(data, i) == len(data)
		}
	}
}

// plainByte marks the bytes a string literal holds as they are: not a
// quote, a backslash, a control character or a byte above 0x7f.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// simpleNameEnd returns the index just past the string literal at data[i]
// (a '"') when it holds no escape, no control character and only valid
// UTF-8, else -1. (jsontext compares names after replacing invalid UTF-8,
// so two different invalid names can be duplicates to it.)
func simpleNameEnd(data []byte, i int) int {
	j := plainEnd(data, i+1)
	if j < len(data) && data[j] == '"' {
		return j + 1
	}
	for ; j < len(data); j++ { // the rare name with bytes above 0x7f
		switch c := data[j]; {
		case c == '"':
			if !utf8.Valid(data[i+1 : j]) {
				return -1
			}
			return j + 1
		case c == '\\' || c < 0x20:
			return -1
		}
	}
	return -1
}

// value validates the JSON value at data[i] and returns the index just
// past it, or -1 (invalid, or a shape left to the general path).
func (s *frameScanner) value(i int) int {
	data := s.data
	if i >= len(data) {
		return -1
	}
	switch c := data[i]; {
	case c == '"':
		return stringLitEnd(data, i)
	case c == '{':
		return s.object(i)
	case c == '[':
		return s.array(i)
	case c == 't':
		return literalEnd(data, i, "true")
	case c == 'f':
		return literalEnd(data, i, "false")
	case c == 'n':
		return literalEnd(data, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return numberEnd(data, i)
	}
	return -1
}

func (s *frameScanner) object(i int) int {
	data := s.data
	if s.depth == maxFastDepth {
		return -1
	}
	s.starts[s.depth], s.filters[s.depth] = s.n, 0
	s.depth++
	defer func() { s.depth--; s.n = s.starts[s.depth] }()
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return -1
		}
		end := simpleNameEnd(data, i)
		if end < 0 || !s.addName(nameSpan{start: int32(i + 1), end: int32(end - 1)}) {
			return -1
		}
		nameStart, nameEnd := i+1, end-1
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return -1
		}
		vstart := skipSpace(data, i+1)
		if end = s.value(vstart); end < 0 {
			return -1
		}
		if s.members != nil && s.depth == 1 {
			s.members.add(nameStart, nameEnd, vstart, end)
		}
		var more bool
		if i, more = afterValue(data, end, '}'); !more {
			return i
		}
	}
}

// addName records a member name of the innermost open object; false when
// the object already has it (or there is no room left to tell).
func (s *frameScanner) addName(name nameSpan) bool {
	if s.n == maxFastNames {
		return false
	}
	text := s.data[name.start:name.end]
	bit, filter := nameBit(text), &s.filters[s.depth-1]
	if *filter&bit != 0 {
		for _, other := range s.names[s.starts[s.depth-1]:s.n] {
			if string(s.data[other.start:other.end]) == string(text) {
				return false
			}
		}
	}
	*filter |= bit
	s.names[s.n] = name
	s.n++
	return true
}

func (s *frameScanner) array(i int) int {
	data := s.data
	if s.depth == maxFastDepth {
		return -1
	}
	s.depth++
	s.starts[s.depth-1] = s.n // an array has no names of its own: its level starts empty
	defer func() { s.depth-- }()
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1
	}
	for {
		end := s.value(i)
		if end < 0 {
			return -1
		}
		var more bool
		if i, more = afterValue(data, end, ']'); !more {
			return i
		}
	}
}

// afterValue reads what follows a member or element that ends at end in a
// container that closer closes: after a ',', the start of the next one
// (more is true); after closer, the index just past it; else -1. It skips
// the space before the ',' in its own loop rather than with skipSpace so
// that it stays small enough to inline into its three callers.
func afterValue(data []byte, end int, closer byte) (i int, more bool) {
	for i = end; i < len(data); i++ {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
		case ',':
			return skipSpace(data, i+1), true
		case closer:
			return i + 1, false
		default:
			return -1, false
		}
	}
	return -1, false
}

// stringLitEnd validates the string literal at data[i] (a '"') and returns
// the index just past it, or -1. Bytes above 0x7f pass unchecked
// (AllowInvalidUTF8); a \u escape of a surrogate is left to the general
// path, which pairs surrogates.
func stringLitEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		if j = plainEnd(data, j); j == len(data) {
			return -1
		}
		switch c := data[j]; {
		case c == '"':
			return j + 1
		case c < 0x20:
			return -1
		case c == '\\':
			j++
			if j >= len(data) {
				return -1
			}
			switch data[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(data) {
					return -1
				}
				var r rune
				for _, h := range data[j+1 : j+5] {
					switch {
					case h >= '0' && h <= '9':
						r = r<<4 | rune(h-'0')
					case h >= 'a' && h <= 'f':
						r = r<<4 | rune(h-'a'+10)
					case h >= 'A' && h <= 'F':
						r = r<<4 | rune(h-'A'+10)
					default:
						return -1
					}
				}
				if r >= 0xd800 && r <= 0xdfff {
					return -1
				}
				j += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// literalEnd checks that data[i:] starts with lit.
func literalEnd(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// numberEnd validates the JSON number at data[i] (RFC 8259 §6) and returns
// the index just past it, or -1. What follows is the caller's to check.
func numberEnd(data []byte, i int) int {
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		i = digitsEnd(data, i)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		j := digitsEnd(data, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digitsEnd(data, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digitsEnd(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}
