package bridge

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/cifbridge/cifbridge/protocol"
)

// validateCIF checks the params of a cif.* call. It returns them normalised
// (record values as JSON objects) and, for calls with a params struct, the
// decoded struct (for correlation.Attempt.Typed). Unknown methods are -32601.
// params must be valid JSON (or empty): a member of a frame protocol.Decode
// accepted, which validated the whole frame, so the record params are not
// validated a second time (protocol.DecodeValidParams).
func validateCIF(method string, params json.RawMessage) (json.RawMessage, any, error) {
	return validate(nil, method, params)
}

// validateRequest is validateCIF for a request as protocol.Decode returned
// it: the record params are filled from the members the frame's decode
// found (protocol.DecodeRequestParams), not scanned again.
func validateRequest(m *protocol.Message) (json.RawMessage, any, error) {
	return validate(m, m.Method, m.Params)
}

// validate is validateCIF; m, when set, is the request params comes from.
func validate(m *protocol.Message, method string, params json.RawMessage) (json.RawMessage, any, error) {
	switch method {
	case protocol.MethodCreateRecord:
		return check(m, params, func(p *protocol.CreateRecordParams) (bool, error) {
			if err := protocol.RequireEntity("entityName", p.EntityName); err != nil {
				return false, err
			}
			return normalize("value", &p.Value)
		})
	case protocol.MethodUpdateRecord:
		return check(m, params, func(p *protocol.UpdateRecordParams) (bool, error) {
			if err := requireRecord(p.EntityName, p.EntityID); err != nil {
				return false, err
			}
			return normalize("value", &p.Value)
		})
	case protocol.MethodRetrieveRecord:
		return check(m, params, func(p *protocol.RetrieveRecordParams) (bool, error) {
			return false, requireRecord(p.EntityName, p.EntityID)
		})
	case protocol.MethodDeleteRecord:
		return check(m, params, func(p *protocol.RecordParams) (bool, error) { return false, requireRecord(p.EntityName, p.EntityID) })
	case protocol.MethodSearch, protocol.MethodSearchAndOpenRecords:
		return check(m, params, func(p *protocol.SearchParams) (bool, error) {
			return false, protocol.RequireEntity("entityName", p.EntityName)
		})
	case protocol.MethodGetEntityMetadata:
		return check(m, params, func(p *protocol.EntityMetadataParams) (bool, error) {
			return false, protocol.RequireEntity("entityName", p.EntityName)
		})
	case protocol.MethodSetClickToAct, protocol.MethodSetMode, protocol.MethodSetWidth:
		return check(m, params, func(p *protocol.ValueParams) (bool, error) {
			if len(p.Value) == 0 {
				return false, protocol.InvalidParams("\"value\" is missing")
			}
			return false, nil
		})
	case protocol.MethodGetEnvironment, protocol.MethodGetClickToAct, protocol.MethodGetMode, protocol.MethodGetWidth,
		protocol.MethodOpenForm, protocol.MethodRefreshForm, protocol.MethodRenderSearchPage:
		raw, err := objectParams(params)
		return raw, nil, err
	}
	if spec := protocol.CIFMethod(method); spec != nil {
		return checkSpec(spec, params)
	}
	return nil, nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %q is not a CIF call this bridge knows", method)
}

// check decodes params strictly into P and validates them; validate may
// normalise them and says whether it changed anything. The params go on as
// the widget sent them unless they changed (then re-encoded), so the hot
// path decodes once and encodes nothing. P's raw members (a record's value)
// are slices of params, not copies: params is a slice of the frame the
// connection read, which nothing changes (rpcconn's read), and valid JSON
// (validateCIF's contract), which the record params' decode trusts.
func check[P any](m *protocol.Message, params json.RawMessage, validate func(*P) (changed bool, err error)) (json.RawMessage, any, error) {
	p := new(P)
	var err error
	if m != nil {
		err = protocol.DecodeRequestParams(m, p)
	} else {
		err = protocol.DecodeValidParams(params, p)
	}
	if err != nil {
		return nil, nil, err
	}
	changed, err := validate(p)
	if err != nil {
		return nil, nil, err
	}
	if !changed {
		if raw, err := objectParams(params); err == nil {
			return raw, p, nil
		}
	}
	raw, err := protocol.Raw(p)
	return raw, p, err
}

// normalize turns a record value given as a JSON string into the object it
// holds (CIF accepts both) and reports whether it did.
func normalize(field string, v *json.RawMessage) (bool, error) {
	n, err := protocol.NormalizeObject(field, *v)
	if err != nil {
		return false, err
	}
	changed := len(*v) > 0 && (*v)[0] == '"'
	*v = n
	return changed, nil
}

func requireRecord(entity, id string) error {
	if err := protocol.RequireEntity("entityName", entity); err != nil {
		return err
	}
	return protocol.RequireID("entityId", id)
}

func objectParams(params json.RawMessage) (json.RawMessage, error) {
	if len(params) == 0 || string(params) == "null" {
		return json.RawMessage("{}"), nil
	}
	if params[0] != '{' {
		return nil, protocol.InvalidParams("params must be a JSON object with named members")
	}
	return params, nil
}

// checkSpec validates the params of a method of the CIF table
// (protocol.CIFMethods) that has no check of its own: a strict decode into
// its params type (unknown members refused), or an object for methods
// without params. CIF's own "correlationId" member (telemetry grouping,
// which real pages send and recorded captures replay) is dropped.
func checkSpec(spec *protocol.MethodSpec, params json.RawMessage) (json.RawMessage, any, error) {
	raw, err := objectParams(params)
	if err != nil {
		return nil, nil, err
	}
	if bytes.Contains(raw, []byte(`"correlationId"`)) {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			delete(m, "correlationId")
			if raw, err = json.Marshal(m); err != nil {
				return nil, nil, protocol.InvalidParams("%v", err)
			}
		}
	}
	if spec.Params == nil {
		return raw, nil, nil
	}
	p := reflect.New(reflect.TypeOf(spec.Params).Elem()).Interface()
	if err := protocol.DecodeParams(raw, p); err != nil {
		return nil, nil, err
	}
	return raw, p, nil
}
