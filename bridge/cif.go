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
		var p protocol.CreateRecordParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		if err := protocol.RequireEntity("entityName", p.EntityName); err != nil {
			return nil, err
		}
		v, err := protocol.NormalizeObject("value", p.Value)
		if err != nil {
			return nil, err
		}
		p.Value = v
		return protocol.Raw(p)
	case protocol.MethodUpdateRecord:
		var p protocol.UpdateRecordParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		if err := firstErr(protocol.RequireEntity("entityName", p.EntityName), protocol.RequireID("entityId", p.EntityID)); err != nil {
			return nil, err
		}
		v, err := protocol.NormalizeObject("value", p.Value)
		if err != nil {
			return nil, err
		}
		p.Value = v
		return protocol.Raw(p)
	case protocol.MethodRetrieveRecord:
		var p protocol.RetrieveRecordParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		if err := firstErr(protocol.RequireEntity("entityName", p.EntityName), protocol.RequireID("entityId", p.EntityID)); err != nil {
			return nil, err
		}
		return protocol.Raw(p)
	case protocol.MethodDeleteRecord:
		var p protocol.RecordParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		if err := firstErr(protocol.RequireEntity("entityName", p.EntityName), protocol.RequireID("entityId", p.EntityID)); err != nil {
			return nil, err
		}
		return protocol.Raw(p)
	case protocol.MethodSearch, protocol.MethodSearchAndOpenRecords:
		var p protocol.SearchParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		if err := protocol.RequireEntity("entityName", p.EntityName); err != nil {
			return nil, err
		}
		return protocol.Raw(p)
	case protocol.MethodGetEntityMetadata:
		var p protocol.EntityMetadataParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		if err := protocol.RequireEntity("entityName", p.EntityName); err != nil {
			return nil, err
		}
		return protocol.Raw(p)
	case protocol.MethodSetClickToAct, protocol.MethodSetMode, protocol.MethodSetWidth:
		var p protocol.ValueParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		if len(p.Value) == 0 {
			return nil, protocol.InvalidParams("\"value\" is missing")
		}
		return protocol.Raw(p)
	case protocol.MethodGetEnvironment, protocol.MethodGetClickToAct, protocol.MethodGetMode, protocol.MethodGetWidth,
		protocol.MethodOpenForm, protocol.MethodRefreshForm, protocol.MethodRenderSearchPage:
		return objectParams(params)
	}
	if cif2Calls[method] {
		return objectParams(params)
	}
	return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %q is not a CIF call this bridge knows", method)
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

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
