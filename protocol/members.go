package protocol

import "encoding/json"

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

// DecodeRequestParams is DecodeValidParams(m.Params, v) for a request
// Decode returned: the members of its params object that scanFrame found
// when it read the frame are used as they are, not scanned again, for the
// types DecodeValidParams fills itself. Same result and errors
// (TestDecodeRequestParamsMatches); a Message whose Params was replaced
// since Decode, or built by hand, is decoded from its Params.
func DecodeRequestParams(m *Message, v any) error {
	pm := &m.members
	if pm.n <= 0 || len(m.Params) != int(pm.size) || &m.Params[0] != pm.params {
		return DecodeValidParams(m.Params, v)
	}
	params := m.Params
	switch p := v.(type) {
	case *CreateRecordParams:
		var out CreateRecordParams
		if pm.fill(params, []trustedField{{name: "entityName", str: &out.EntityName}, {name: "value", raw: &out.Value}}) {
			*p = out
			return nil
		}
	case *UpdateRecordParams:
		var out UpdateRecordParams
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
	return DecodeValidParams(params, v)
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
