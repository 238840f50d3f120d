package bridge

import (
	"encoding/json"

	"github.com/cifbridge/cifbridge/protocol"
)

// cif2Calls are the CIF 2.0 session/tab/notification calls: passed to the
// backend as they are (a host peer may implement them; the emulator answers
// -32601 for the ones it does not).
var cif2Calls = map[string]bool{
	"cif.createSession": true, "cif.getAllSessions": true, "cif.getFocusedSession": true, "cif.getSession": true,
	"cif.canCreateSession": true, "cif.requestFocusSession": true, "cif.createTab": true, "cif.focusTab": true,
	"cif.getFocusedTab": true, "cif.getTabsByTagOrName": true, "cif.refreshTab": true, "cif.setTabTitle": true,
	"cif.setSessionTitle": true, "cif.notifyEvent": true, "cif.insertNotes": true, "cif.setAgentPresence": true,
	"cif.initializeAgentPresenceList": true, "cif.notifyKpiBreach": true, "cif.notifyNewActivity": true,
	"cif.updateContext": true, "cif.openKBSearchControl": true, "cif.isConsoleApp": true,
}

// validateCIF checks the params of a cif.* call and returns them normalised
// (record values as JSON objects). Unknown methods are -32601.
func validateCIF(method string, params json.RawMessage) (json.RawMessage, error) {
	switch method {
	case protocol.MethodCreateRecord:
		return check(params, func(p *protocol.CreateRecordParams) (err error) {
			if err = protocol.RequireEntity("entityName", p.EntityName); err == nil {
				p.Value, err = protocol.NormalizeObject("value", p.Value)
			}
			return err
		})
	case protocol.MethodUpdateRecord:
		return check(params, func(p *protocol.UpdateRecordParams) (err error) {
			if err = requireRecord(p.EntityName, p.EntityID); err == nil {
				p.Value, err = protocol.NormalizeObject("value", p.Value)
			}
			return err
		})
	case protocol.MethodRetrieveRecord:
		return check(params, func(p *protocol.RetrieveRecordParams) error { return requireRecord(p.EntityName, p.EntityID) })
	case protocol.MethodDeleteRecord:
		return check(params, func(p *protocol.RecordParams) error { return requireRecord(p.EntityName, p.EntityID) })
	case protocol.MethodSearch, protocol.MethodSearchAndOpenRecords:
		return check(params, func(p *protocol.SearchParams) error { return protocol.RequireEntity("entityName", p.EntityName) })
	case protocol.MethodGetEntityMetadata:
		return check(params, func(p *protocol.EntityMetadataParams) error {
			return protocol.RequireEntity("entityName", p.EntityName)
		})
	case protocol.MethodSetClickToAct, protocol.MethodSetMode, protocol.MethodSetWidth:
		return check(params, func(p *protocol.ValueParams) error {
			if len(p.Value) == 0 {
				return protocol.InvalidParams("\"value\" is missing")
			}
			return nil
		})
	case protocol.MethodGetEnvironment, protocol.MethodGetClickToAct, protocol.MethodGetMode, protocol.MethodGetWidth,
		protocol.MethodOpenForm, protocol.MethodRefreshForm, protocol.MethodRenderSearchPage:
		return objectParams(params)
	}
	if cif2Calls[method] {
		return objectParams(params)
	}
	return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %q is not a CIF call this bridge knows", method)
}

// check decodes params strictly into P, validates (and may normalise) them,
// and re-encodes the result for the backend.
func check[P any](params json.RawMessage, validate func(*P) error) (json.RawMessage, error) {
	var p P
	if err := protocol.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := validate(&p); err != nil {
		return nil, err
	}
	return protocol.Raw(p)
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
