package emulator

import (
	"encoding/binary"
	"encoding/json"
	"iter"
)

// row holds the columns of a stored record packed into one byte slice.
//
// A row holds no pointers, so the garbage collector marks a stored record's
// values as one block instead of scanning a map of interfaces. With the
// emulator keeping thousands of records, that scan set the length of every
// GC cycle and, through it, the bridge's latency tail (#6).
//
// A row is never changed in place: with and without return a new one,
// so a reader holding a record under the read lock never sees a torn write.
//
// Each column is: name length (1 byte), name, kind (1 byte), and for
// kindString and kindNumber a uvarint length and the text.
type row []byte

// The kinds of a column value; a value reads back (row.get) as the Go
// value in its comment.
const (
	kindNull   byte = 'n' // nil
	kindString byte = 's' // string
	kindNumber byte = '0' // json.Number
	kindTrue   byte = 't' // true
	kindFalse  byte = 'f' // false
)

// maxColumnName is the longest column name a row stores; Dataverse logical
// names are at most 50 characters.
const maxColumnName = 255

// col is one column to write: a name and a value of the kinds above
// (appendColumn).
type col struct {
	name string
	val  any
}

// appendColumn appends one column. Values of another type are stored as
// null; the emulator's parsers only produce the kinds above.
func appendColumn(b row, name string, v any) row {
	switch x := v.(type) {
	case string:
		return appendText(b, name, kindString, x)
	case []byte: // text, e.g. a new GUID formatted on the stack
		return appendText(b, name, kindString, x)
	case json.Number:
		return appendText(b, name, kindNumber, x)
	case bool:
		if x {
			return appendText(b, name, kindTrue, "")
		}
		return appendText(b, name, kindFalse, "")
	}
	return appendText(b, name, kindNull, "")
}

// appendText appends one column of the given kind; text is ignored for the
// kinds without text. The name is at most maxColumnName bytes (the catalog
// refuses longer column names).
func appendText[N, T ~string | ~[]byte](b row, name N, kind byte, text T) row {
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = append(b, kind)
	if kind == kindString || kind == kindNumber {
		b = binary.AppendUvarint(b, uint64(len(text)))
		b = append(b, text...)
	}
	return b
}

// next decodes the column at the start of r: its name, kind and text, and
// the rest of the row.
func (r row) next() (name []byte, kind byte, text []byte, rest row) {
	n := int(r[0])
	name, kind, r = r[1:1+n], r[1+n], r[2+n:]
	if kind == kindString || kind == kindNumber {
		l, w := binary.Uvarint(r)
		text, r = r[w:w+int(l)], r[w+int(l):]
	}
	return name, kind, text, r
}

// find returns the kind and text of column name (its last, in a patch);
// ok false when unset.
func (r row) find(name string) (kind byte, text []byte, ok bool) {
	c := lastColumn(r, name)
	if c == nil {
		return 0, nil, false
	}
	_, kind, text, _ = c.next()
	return kind, text, true
}

// lastColumn returns the encoded column name, the last one of that name in
// r; nil when r has none.
func lastColumn[S string | []byte](r row, name S) row {
	var col row
	for len(r) > 0 {
		n, _, _, rest := r.next()
		if string(n) == string(name) {
			col = r[:len(r)-len(rest)]
		}
		r = rest
	}
	return col
}

// get returns the value of column name: string, json.Number, bool, or nil
// when null or unset.
func (r row) get(name string) any {
	kind, text, ok := r.find(name)
	if !ok {
		return nil
	}
	return value(kind, text)
}

// str returns the value of column name when it is a string, else "".
func (r row) str(name string) string {
	if kind, text, ok := r.find(name); ok && kind == kindString {
		return string(text)
	}
	return ""
}

func value(kind byte, text []byte) any {
	switch kind {
	case kindString:
		return string(text)
	case kindNumber:
		return json.Number(text)
	case kindTrue:
		return true
	case kindFalse:
		return false
	}
	return nil
}

// all yields every column and its value, in stored order.
func (r row) all() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for len(r) > 0 {
			name, kind, text, rest := r.next()
			r = rest
			if !yield(string(name), value(kind, text)) {
				return
			}
		}
	}
}

// with returns a new row: r's columns, each replaced by the last column of
// the same name in patch, then the columns of patch that r does not have
// (the last of each name), in patch order. A patch is packed as a row but
// may name a column more than once. Neither r nor patch is changed.
//
// Both rows are split into their columns once (on the stack for the rows
// the emulator writes), so a create's ~20 columns cost a few hundred name
// comparisons rather than as many decodes of the patch.
func (r row) with(patch row) row {
	var pBuf [32]column
	return r.withColumns(patch.columns(pBuf[:0]))
}

// withString is r.with of a patch holding only column name = text (a
// string): one allocation, no patch built. r is a stored row (each column
// once), so the column is replaced where r has it, else appended.
func (r row) withString(name, text string) row {
	at, end := len(r), len(r) // where the column is, or the end
	for off := 0; off < len(r); {
		c, _, _, next := r[off:].next()
		if string(c) == name {
			at, end = off, len(r)-len(next)
		}
		off = len(r) - len(next)
	}
	n := len(name) + 2 + uvarintLen(len(text)) + len(text)
	out := make(row, 0, len(r)-(end-at)+n) // exactly: a stored row keeps no spare capacity
	out = append(out, r[:at]...)
	out = appendText(out, name, kindString, text)
	return append(out, r[end:]...)
}

// uvarintLen is the length of binary.AppendUvarint's encoding of n.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// withColumns is with for a patch already split into its columns (their
// encodings may live in different buffers).
func (r row) withColumns(pc []column) row {
	if len(r) == 0 && len(pc) <= maxFirstWrite {
		return firstWrite(pc)
	}
	var rBuf [32]column
	rc := r.columns(rBuf[:0])
	var pickBuf [64]row
	pick := pickBuf[:0]
	n := 0
	for _, c := range rc {
		if last := lastOf(pc, c.name); last != nil {
			c.enc = last
		}
		pick = append(pick, c.enc)
		n += len(c.enc)
	}
	for i, c := range pc {
		if lastOf(pc[i+1:], c.name) == nil && lastOf(rc, c.name) == nil {
			pick = append(pick, c.enc)
			n += len(c.enc)
		}
	}
	out := make(row, 0, n) // exactly: a stored row keeps no spare capacity
	for _, c := range pick {
		out = append(out, c...)
	}
	return out
}

// maxFirstWrite is the most columns firstWrite takes (its marks are on
// the stack); a longer patch takes the general path.
const maxFirstWrite = 64

// firstWrite is withColumns on an empty row (a create): the last column of
// each name, in patch order. Walking back from the last column, a 128-bit
// filter of the names met so far tells most columns from every later one
// without comparing names; only a filter hit compares.
func firstWrite(pc []column) row {
	var seen [2]uint64
	var keep [maxFirstWrite]bool
	n := 0
	for i := len(pc) - 1; i >= 0; i-- {
		h := nameHash(pc[i].name)
		word, bit := h>>6, uint64(1)<<(h&63)
		if seen[word]&bit != 0 && lastOf(pc[i+1:], pc[i].name) != nil {
			continue
		}
		seen[word] |= bit
		keep[i] = true
		n += len(pc[i].enc)
	}
	out := make(row, 0, n) // exactly: a stored row keeps no spare capacity
	for i, c := range pc {
		if keep[i] {
			out = append(out, c.enc...)
		}
	}
	return out
}

// nameHash is a 7-bit hash of a column name for firstWrite's filter: its
// length and three of its bytes.
func nameHash(name []byte) uint {
	n := len(name)
	if n == 0 {
		return 0
	}
	h := uint32(n)*0x9e3779b1 ^ uint32(name[0])*0x85ebca6b ^ uint32(name[n-1])*0xc2b2ae35 ^ uint32(name[n/2])*0x27d4eb2f
	return uint(h>>25) & 127
}

// column is one column of a row: its name and its encoding.
type column struct {
	name []byte
	enc  row
}

// colAt returns the column of r that starts at offset at and ends r (the
// one just appended).
func colAt(r row, at int) column {
	n := int(r[at])
	return column{name: r[at+1 : at+1+n : at+1+n], enc: r[at:len(r):len(r)]}
}

// columns appends r's columns to cols.
func (r row) columns(cols []column) []column {
	for len(r) > 0 {
		name, _, _, rest := r.next()
		cols = append(cols, column{name, r[:len(r)-len(rest)]})
		r = rest
	}
	return cols
}

// lastOf returns the encoding of the last column named name in cols; nil
// when there is none.
func lastOf(cols []column, name []byte) row {
	for i := len(cols) - 1; i >= 0; i-- {
		if string(cols[i].name) == string(name) {
			return cols[i].enc
		}
	}
	return nil
}

// without returns a new row with column name removed.
func (r row) without(name string) row {
	out := make(row, 0, len(r))
	for rest := r; len(rest) > 0; {
		n, _, _, next := rest.next()
		if string(n) != name {
			out = append(out, rest[:len(rest)-len(next)]...)
		}
		rest = next
	}
	return out
}
