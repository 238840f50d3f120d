package protocol

import (
	"encoding/json"

	"github.com/go-json-experiment/json/jsontext"
)

// maxParamMembers bounds the members of a request's params object that
// scanFrame records: the record calls' params have two or three (params
// with more members are none of theirs).
const maxParamMembers = 3

// paramMembers is where scanFrame found the members of a request's params
// object, so that DecodeRequestParams fills the record calls' params
// structs without scanning the params again. n is 0 when nothing was
// recorded (not scanFrame's frame, params not an object, empty) and -1 when
// the object has more than maxParamMembers members.
type paramMembers struct {
	// params is the first byte of the Params the offsets count from (set
	// by of); base is the params' offset in the frame while scanning.
	params *byte
	size   int32 // len(Params)
	base   int32
	n      int32
	m      [maxParamMembers]memberSpan
}

// maxValueMembers bounds the members of a record value that scanFrame
// records (the load driver's contact has eight).
const maxValueMembers = 16

// maxValueSize bounds the record values whose members scanFrame records
// (their offsets are kept in 16 bits, to keep Message small).
const maxValueSize = 1<<16 - 1

// valueMembers is where scanFrame found the members of a request's record
// value (the object the params' "value" member holds), so that the
// emulator's create and update read the record's columns without scanning
// the value again (CreateRecordParams.ValueMembers). Offsets count from
// the value's first byte. size is 0 when nothing was recorded; n is -1
// when the value has more than maxValueMembers members or more than
// maxValueSize bytes.
type valueMembers struct {
	first *byte // the value's first byte, set by fromWire
	base  int32 // the value's offset in the frame, while scanning
	size  int32 // len(value)
	n     int16
	ascii uint16 // bit k: member k's value is a string of plain bytes (stringLit)
	m     [maxValueMembers]valueSpan
}

// valueSpan is one member of a record value: its name without the quotes
// and its value, as offsets into the value.
type valueSpan struct{ nameStart, nameEnd, valueStart, valueEnd uint16 }

// add records a member of the value found at these offsets of the frame;
// ascii as stringLit reports it for a string value. Offsets past
// maxValueSize are recorded wrong, but the value is then too long, and
// its members are not used (done).
func (v *valueMembers) add(nameStart, nameEnd, valueStart, valueEnd int, ascii bool) {
	if v.n < 0 {
		return
	}
	if v.n == maxValueMembers {
		v.n = -1
		return
	}
	b := int(v.base)
	v.m[v.n] = valueSpan{uint16(nameStart - b), uint16(nameEnd - b), uint16(valueStart - b), uint16(valueEnd - b)}
	if ascii {
		v.ascii |= 1 << v.n
	}
	v.n++
}

// done ends the value's scan, which ended at end (-1: it failed).
func (v *valueMembers) done(end int) {
	v.size = int32(end) - v.base
	if v.size > maxValueSize {
		v.n = -1
	}
}

// scan lists the members of value as ValidMembers does: from the recorded
// positions when value is the very value they were recorded in (v may be
// nil), else by a scan.
func (v *valueMembers) scan(value []byte) ValidMemberScan {
	if v == nil || v.n < 0 || v.size == 0 || len(value) != int(v.size) || &value[0] != v.first {
		return ValidMembers(value)
	}
	return ValidMemberScan{data: value, next: -1, rec: v}
}

// member is ValidMemberScan.Member from the recorded positions. The
// names scanFrame took hold no escape and are valid UTF-8
// (simpleNameEnd): the bytes between the quotes are the name, as Member
// finds it.
func (v *valueMembers) member(data []byte, k *int16) (name []byte, value jsontext.Value, plain, ok bool) {
	if *k >= v.n {
		return nil, nil, false, false
	}
	s, ascii := &v.m[*k], v.ascii&(1<<*k) != 0
	*k++
	name = data[s.nameStart:s.nameEnd:s.nameEnd]
	value = jsontext.Value(data[s.valueStart:s.valueEnd:s.valueEnd])
	if !ascii && value[0] == '"' {
		_, ascii = simpleString(value)
	}
	return name, value, ascii, true
}

// ValueMembers lists the members of value, p.Value or the object a JSON
// string p.Value holds (NormalizeObject), as ValidMembers(value) does.
// When p was filled by DecodeRequestParams and value is p.Value as the
// frame holds it, the members are those Decode's scan of the frame found,
// not looked for again (FuzzDecodeRequestParamsInFrame checks that they
// are the same).
func (p *CreateRecordParams) ValueMembers(value []byte) ValidMemberScan {
	return p.value.scan(value)
}

// ValueMembers is CreateRecordParams.ValueMembers for an update.
func (p *UpdateRecordParams) ValueMembers(value []byte) ValidMemberScan {
	return p.value.scan(value)
}

// memberSpan is one member: its name without the quotes and its value.
type memberSpan struct{ nameStart, nameEnd, valueStart, valueEnd int32 }

// add records a member found at these offsets of the frame.
func (p *paramMembers) add(nameStart, nameEnd, valueStart, valueEnd int) {
	if p.n < 0 {
		return
	}
	if p.n == maxParamMembers {
		p.n = -1
		return
	}
	p.m[p.n] = memberSpan{int32(nameStart), int32(nameEnd), int32(valueStart), int32(valueEnd)}
	p.n++
}

// of makes the members offsets into params, the frame's slice that starts
// at base.
func (p *paramMembers) of(params []byte) {
	for i := range p.n {
		m := &p.m[i]
		m.nameStart, m.nameEnd, m.valueStart, m.valueEnd = m.nameStart-p.base, m.nameEnd-p.base, m.valueStart-p.base, m.valueEnd-p.base
	}
	p.params, p.size, p.base = &params[0], int32(len(params)), 0
}

// keepValue gives m, the request scanFrame read from data, the members of
// its record value that the scan recorded in v (none when it found no
// record value).
func (m *Message) keepValue(data []byte, v *valueMembers) {
	if v.size > 0 && (m.Kind == KindRequest || m.Kind == KindNotification) {
		v.first = &data[v.base]
		m.values = v
	}
}

// recordedValue is where the members of m's record value were found, for
// the params DecodeRequestParams fills; nil when they were not recorded.
func (m *Message) recordedValue() *valueMembers {
	if v := m.values; v != nil && v.n >= 0 {
		return v
	}
	return nil
}

// DecodeRequestParams is DecodeValidParams(m.Params, v) for a request
// Decode returned: the members of its params object that scanFrame found
// when it read the frame are used as they are, not scanned again, for the
// types DecodeValidParams fills itself. Same result and errors
// (TestDecodeRequestParams); a Message whose Params was replaced since
// Decode, or built by hand, is decoded from its Params. A create's or an
// update's params also keep where the frame's scan found the members of
// their record value, for ValueMembers.
func DecodeRequestParams(m *Message, v any) error {
	pm := &m.members
	if pm.n <= 0 || len(m.Params) != int(pm.size) || &m.Params[0] != pm.params {
		return decodeRecordParams(m.recordedValue(), m.Params, v)
	}
	params := m.Params
	switch p := v.(type) {
	case *CreateRecordParams:
		out := CreateRecordParams{value: m.recordedValue()}
		if pm.fill(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "value", raw: &out.Value}}) {
			*p = out
			return nil
		}
	case *UpdateRecordParams:
		out := UpdateRecordParams{value: m.recordedValue()}
		if pm.fill(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "entityId", str: &out.EntityID}, {name: "value", raw: &out.Value}}) {
			*p = out
			return nil
		}
	case *RetrieveRecordParams:
		var out RetrieveRecordParams
		if pm.fill(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "entityId", str: &out.EntityID}, {name: "queryParameters", str: &out.QueryParameters}}) {
			*p = out
			return nil
		}
	case *RecordParams:
		var out RecordParams
		if pm.fill(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "entityId", str: &out.EntityID}}) {
			*p = out
			return nil
		}
	}
	return decodeRecordParams(m.recordedValue(), params, v)
}

// decodeRecordParams is DecodeValidParams; a create's or an update's
// params keep rec, where the record value's members were found (rec may
// belong to other params: ValueMembers uses it only for the value it was
// found in).
func decodeRecordParams(rec *valueMembers, params json.RawMessage, v any) error {
	if err := DecodeValidParams(params, v); err != nil {
		return err
	}
	switch p := v.(type) {
	case *CreateRecordParams:
		p.value = rec
	case *UpdateRecordParams:
		p.value = rec
	}
	return nil
}

// fill fills fields from the recorded members as trustedFields does from
// a scan; false when they are not of the trusted shape.
func (p *paramMembers) fill(params []byte, fields []trustedField) bool {
	var seen uint32
	for _, m := range p.m[:p.n] {
		if trustField(fields, &seen, params[m.nameStart:m.nameEnd], json.RawMessage(params[m.valueStart:m.valueEnd:m.valueEnd])) != nil {
			return false
		}
	}
	return true
}
