package emulator

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Type checks of written values, from the metadata of the built-in columns
// (knownTypes, maxLengths, optionValues). A column the emulator has no type
// for (a schema file's own attributes) takes any JSON primitive, as before.

// Codes of the type errors.
const (
	// CodePayload is Dataverse's "Error identified in Payload provided by
	// the user" (a value of the wrong JSON type or format).
	CodePayload = "0x80048d19"
	// CodeLength is a string longer than the column's MaxLength.
	CodeLength = "0x80044331"
	// CodeOptionRange is an option-set value the column does not have.
	CodeOptionRange = "0x8004431a"
	// CodeStatus is a statuscode that is not one of its statecode's.
	CodeStatus = "0x80048408"
)

// maxLengths are the MaxLength of the built-in text columns (Dataverse's
// defaults for these columns); Memo columns hold up to 2000 characters
// unless named here.
var maxLengths = map[string]int{
	"firstname": 50, "lastname": 50, "middlename": 50, "fullname": 160, "name": 160, "jobtitle": 100,
	"emailaddress1": 100, "emailaddress2": 100, "telephone1": 50, "telephone2": 50, "mobilephone": 50,
	"accountnumber": 20, "websiteurl": 200, "address1_city": 80, "address1_country": 80,
	"subject": 200, "phonenumber": 200, "title": 200, "ticketnumber": 100, "companyname": 100,
	"description": 2000,
}

// optionValues are the option-set values of the built-in choice columns by
// entity and column (statuscode depends on statecode: checkState).
var optionValues = map[string]map[string][]int{
	"account":   {"statecode": {0, 1}},
	"contact":   {"statecode": {0, 1}},
	"incident":  {"statecode": {0, 1, 2}, "prioritycode": {1, 2, 3}, "caseorigincode": {1, 2, 3, 2483, 3986, 700}},
	"lead":      {"statecode": {0, 1, 2}},
	"phonecall": {"statecode": {0, 1, 2}},
	"task":      {"statecode": {0, 1, 2}, "prioritycode": {0, 1, 2}},
}

// edmTypes are the OData types named in conversion errors.
var edmTypes = map[string]string{
	"Integer": "Edm.Int32", "BigInt": "Edm.Int64", "Picklist": "Edm.Int32", "State": "Edm.Int32", "Status": "Edm.Int32",
	"Money": "Edm.Decimal", "Decimal": "Edm.Decimal", "Double": "Edm.Double", "Boolean": "Edm.Boolean",
	"DateTime": "Edm.DateTimeOffset", "String": "Edm.String", "Memo": "Edm.String",
}

// AttributeSpec is a column type the schema file declares
// ("attributeTypes"): the Dataverse AttributeType, and for text the
// MaxLength (default 100, Memo 2000), for a choice its option values.
type AttributeSpec struct {
	Type      string `json:"type"`
	MaxLength int    `json:"maxLength,omitempty"`
	Options   []int  `json:"options,omitempty"`
}

// declarableTypes are the AttributeTypes a schema may declare.
var declarableTypes = []string{"String", "Memo", "Integer", "BigInt", "Decimal", "Money", "Double", "Boolean", "DateTime", "Picklist"}

// validateAttributeTypes checks the schema's attributeTypes and puts them
// on the entities.
func validateAttributeTypes(cat *catalog, types map[string]map[string]AttributeSpec) error {
	for logical, cols := range types {
		ent := cat.byLogical[logical]
		if ent == nil {
			return fmt.Errorf("schema: attributeTypes.%s: no such entity", logical)
		}
		for col, spec := range cols {
			where := "schema: attributeTypes." + logical + "." + col
			if !ent.writable[col] || col == ent.PrimaryIDAttribute {
				return fmt.Errorf("%s: not a writable attribute of %s (declare it in entities[].attributes)", where, logical)
			}
			if !slices.Contains(declarableTypes, spec.Type) {
				return fmt.Errorf("%s.type must be one of %s, got %q", where, strings.Join(declarableTypes, ", "), spec.Type)
			}
			if spec.MaxLength != 0 && (spec.Type != "String" && spec.Type != "Memo" || spec.MaxLength < 1 || spec.MaxLength > 1048576) {
				return fmt.Errorf("%s.maxLength applies to String and Memo, 1..1048576", where)
			}
			if len(spec.Options) > 0 != (spec.Type == "Picklist") {
				return fmt.Errorf("%s.options lists the values of a Picklist (and only of one)", where)
			}
			if ent.declared == nil {
				ent.declared = map[string]AttributeSpec{}
			}
			ent.declared[col] = AttributeSpec{Type: spec.Type, MaxLength: spec.MaxLength, Options: slices.Clone(spec.Options)}
		}
	}
	return nil
}

// colType is what a written value of one column is checked against
// (checkType): the column's type ("" unknown), and for text its maximum
// length, for a choice its option values.
type colType struct {
	typ    string
	maxLen int
	isText bool
	opts   []int
	// freeText is the longest string value checkType passes without
	// looking (any value of an untyped column, a short enough text), so
	// that the common member skips the call; -1 when it must look.
	freeText int
	// state marks statecode (wroteState) and statuscode (wroteStatus):
	// a write of either is checked against the other (checkState).
	state byte
}

// typeOf works out the colType of column name of ent from the built-in
// metadata and the schema's declarations. New keeps the result for every
// writable column (entity.writeTypes), so a write looks a column up once.
func typeOf(ent *entity, name string) colType {
	typ := knownTypes[name]
	maxLen, isText := maxLengths[name]
	var opts []int
	if spec, ok := ent.declared[name]; ok {
		typ, maxLen, isText, opts = spec.Type, spec.MaxLength, spec.Type == "String" || spec.Type == "Memo", spec.Options
		if isText && maxLen == 0 {
			maxLen = map[string]int{"String": 100, "Memo": 2000}[typ]
		}
	}
	if typ == "" && isText {
		typ = "String"
	}
	if opts == nil {
		opts = optionValues[ent.LogicalName][name]
	}
	t := colType{typ: typ, maxLen: maxLen, isText: isText, opts: opts, freeText: -1}
	switch name {
	case colStateCode:
		t.state = wroteState
	case colStatusCode:
		t.state = wroteStatus
	}
	switch {
	case typ == "":
		t.freeText = math.MaxInt
	case typ == "String" || typ == "Memo":
		t.freeText = 2000 // checkType's bound without a declared length
		if isText {
			t.freeText = maxLen
		}
	}
	return t
}

// packWriteTypes sets ent.writeTypes: the colType of every writable
// column. Called by New once the schema's declarations are in.
func (ent *entity) packWriteTypes() {
	types := make(map[string]colType, len(ent.writable))
	for name := range ent.writable {
		types[name] = typeOf(ent, name)
	}
	ent.writeTypes = newColIndex(types)
}

// colIndex finds the colType of a writable column by its name as a body
// spells it: a table of its own rather than a Go map, because every member
// of every create and update is looked up, and the map hashes the whole
// name (about 20 ns a look-up on the test machine, more than the rest of a
// member's work) where colHash reads two words. Open addressing with
// linear probing, at most half full, so a probe always ends.
type colIndex struct {
	slots []colSlot // a power of two of them
	shift uint      // colHash's top bits pick a slot: 64 - log2(len(slots))
}

type colSlot struct {
	name string
	typ  *colType // nil: an empty slot
}

// newColIndex indexes types. A name holding '@' is left out (add takes
// such a member as an annotation, never as a column; checkName refuses
// such names anyway), so that a name found is a plain column.
func newColIndex(types map[string]colType) colIndex {
	size, shift := 8, uint(61)
	for size < 2*len(types) {
		size, shift = size*2, shift-1
	}
	x := colIndex{slots: make([]colSlot, size), shift: shift}
	for name, t := range types {
		if strings.IndexByte(name, '@') >= 0 {
			continue
		}
		i := colHash([]byte(name)) >> x.shift
		for x.slots[i].typ != nil {
			i = (i + 1) & uint64(size-1)
		}
		x.slots[i] = colSlot{name: name, typ: &t}
	}
	return x
}

// find returns the type of the writable column name; nil when name is not
// one.
func (x *colIndex) find(name []byte) *colType {
	if len(x.slots) == 0 {
		return nil
	}
	mask := uint64(len(x.slots) - 1)
	for i := colHash(name) >> x.shift; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.typ == nil || s.name == string(name) {
			return s.typ
		}
	}
}

// colHash hashes a column name from its length and its first and last
// eight bytes (fewer for a shorter name): names that differ only in their
// middle collide, and the probe tells them apart.
func colHash(name []byte) uint64 {
	n := len(name)
	var a, b uint64
	switch {
	case n >= 8:
		a, b = binary.LittleEndian.Uint64(name), binary.LittleEndian.Uint64(name[n-8:])
	case n >= 4:
		a, b = uint64(binary.LittleEndian.Uint32(name)), uint64(binary.LittleEndian.Uint32(name[n-4:]))
	case n > 0:
		a, b = uint64(name[0]), uint64(name[n-1])<<8|uint64(name[n/2])
	}
	h := (a^uint64(n))*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f
	return h ^ h>>32
}

// checkType checks value v of column name of ent against its type t; nil
// when the column has no known type or v fits. v is a JSON primitive.
func checkType(ent *entity, name []byte, t colType, v jsontext.Value, text []byte) *dvError {
	typ, maxLen, isText, opts := t.typ, t.maxLen, t.isText, t.opts
	if typ == "" || v.Kind() == 'n' { // unknown type, or null: clears the column
		return nil
	}
	bad := func() *dvError {
		lit := string(v)
		if v.Kind() == '"' {
			lit = string(text)
		}
		return errPayload(ent, fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", lit, edmTypes[typ]))
	}
	switch typ {
	case "String", "Memo":
		if v.Kind() != '"' {
			return bad()
		}
		if !isText {
			maxLen = 2000
		}
		if len(text) > maxLen && utf8.RuneCount(text) > maxLen { // never more runes than bytes
			return &dvError{http.StatusBadRequest, CodeLength, fmt.Sprintf(
				"A validation error occurred.  The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", name, ent.LogicalName, maxLen)}
		}
	case "Integer", "Picklist", "State", "Status", "BigInt":
		if v.Kind() != '0' {
			return bad()
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || typ != "BigInt" && (n < math.MinInt32 || n > math.MaxInt32) {
			return bad()
		}
		if opts != nil && !containsInt(opts, int(n)) {
			return &dvError{http.StatusBadRequest, CodeOptionRange, fmt.Sprintf(
				"A validation error occurred. The value %d of '%s' on record of type '%s' is outside the valid range. Accepted Values: %s", n, name, ent.LogicalName, joinInts(opts))}
		}
	case "Money", "Decimal", "Double":
		if v.Kind() != '0' {
			return bad()
		}
	case "Boolean":
		if v.Kind() != 't' && v.Kind() != 'f' {
			return bad()
		}
	case "DateTime":
		if v.Kind() != '"' || !validDateTime(string(text)) {
			return bad()
		}
	}
	return nil
}

// validDateTime accepts what Dataverse reads for a date-time column: an ISO
// 8601 date-time with an offset, or a date.
func validDateTime(s string) bool {
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return true
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func errPayload(ent *entity, inner string) *dvError {
	return &dvError{http.StatusBadRequest, CodePayload, fmt.Sprintf(
		"Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: %s",
		ent.EntitySetName, inner)}
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

// Which of statecode and statuscode a write set holds (writeSet.states).
const (
	wroteState byte = 1 << iota
	wroteStatus
)

// stateStatus is a built-in table's lifecycle: for each statecode, its
// name (in the "<Table>State.<name>" of Dataverse's message) and its
// statuscode values, the default first.
type stateStatus struct {
	table  string // the schema name in "AccountState"
	states map[int]stateDef
}

type stateDef struct {
	name     string
	statuses []int
}

// stateStatuses are the built-in tables' statecode → statuscode values.
var stateStatuses = map[string]stateStatus{
	"account":   {"Account", map[int]stateDef{0: {"Active", []int{1}}, 1: {"Inactive", []int{2}}}},
	"contact":   {"Contact", map[int]stateDef{0: {"Active", []int{1}}, 1: {"Inactive", []int{2}}}},
	"incident":  {"Incident", map[int]stateDef{0: {"Active", []int{1, 2, 3, 4}}, 1: {"Resolved", []int{5, 1000}}, 2: {"Canceled", []int{6, 2000}}}},
	"lead":      {"Lead", map[int]stateDef{0: {"Open", []int{1, 2}}, 1: {"Qualified", []int{3}}, 2: {"Disqualified", []int{4, 5, 6, 7}}}},
	"phonecall": {"PhoneCall", map[int]stateDef{0: {"Open", []int{1}}, 1: {"Completed", []int{2, 4}}, 2: {"Canceled", []int{3}}}},
	"task":      {"Task", map[int]stateDef{0: {"Open", []int{2, 3, 4, 7}}, 1: {"Completed", []int{5}}, 2: {"Canceled", []int{6}}}},
}

// checkState holds a write of statecode or statuscode (wrote) to the
// lifecycle of a built-in table, as Dataverse does: a statecode written
// without a statuscode takes that state's default status; a statuscode must
// be one of its statecode's (the one written, else the record's), or the
// write is refused with 0x80048408. fields is the record's row after the
// write; it is returned with the default status set where one applies.
func checkState(ent *entity, fields row, wrote byte, id string) (row, *dvError) {
	ss, ok := stateStatuses[ent.LogicalName]
	if !ok {
		return fields, nil
	}
	sv, _ := fields.get(colStateCode).(json.Number)
	state, err := strconv.Atoi(string(sv))
	def, ok := ss.states[state]
	if err != nil || !ok {
		return fields, nil // a null statecode; checkType refused one outside the range
	}
	if wrote&wroteStatus == 0 {
		return fields.with(appendText(nil, colStatusCode, kindNumber, strconv.Itoa(def.statuses[0]))), nil
	}
	status, _ := fields.get(colStatusCode).(json.Number)
	if n, err := strconv.Atoi(string(status)); err == nil && containsInt(def.statuses, n) {
		return fields, nil
	}
	return fields, &dvError{http.StatusBadRequest, CodeStatus, fmt.Sprintf(
		"%s is not a valid status code for state code %sState.%s on %s with Id %s.", status, ss.table, def.name, ent.LogicalName, id)}
}
