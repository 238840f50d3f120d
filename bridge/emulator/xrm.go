package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// whoAmI is the WhoAmI function's response.
type whoAmI struct {
	BusinessUnitID string `json:"BusinessUnitId"`
	UserID         string `json:"UserId"`
	OrganizationID string `json:"OrganizationId"`
}

// prepExecute handles xrm.execute (protocol.XrmExecuteParams): CRUD
// (operationType 2), WhoAmI and the schema's actions and functions. The
// result is the parsed response body; CRUD writes answer {entityType, id}.
func (e *Emulator) prepExecute(a *correlation.Attempt) (prepared, error) {
	p, err := backend.Params[protocol.XrmExecuteParams](a)
	if err != nil {
		return prepared{}, err
	}
	md := p.MetaData
	if md.OperationName == "" {
		return prepared{}, protocol.InvalidParams("\"metaData.operationName\" is blank: name the action, function or CRUD operation")
	}
	switch md.OperationType {
	case protocol.XrmOpCRUD:
		return e.prepCRUD(md.OperationName, p.Data)
	case protocol.XrmOpAction, protocol.XrmOpFunction:
		if md.BoundParameter != nil && *md.BoundParameter != "" {
			return e.prepBound(md, p.Data)
		}
		return prepared{run: func() (json.RawMessage, error) {
			body, derr := e.invoke(md.OperationName, md.OperationType)
			if derr != nil {
				return nil, derr
			}
			return body, nil
		}}, nil
	}
	return prepared{}, protocol.InvalidParams("\"metaData.operationType\" must be 0 (action), 1 (function) or 2 (CRUD), got %d", md.OperationType)
}

// prepBound handles an action or function bound to a record or a
// collection, as the Web API face serves <set>(<id>)/Microsoft.Dynamics.CRM.<name>
// (webBound) and as the dataverse backend addresses it: data[boundParameter]
// is the target {entityType, id} (no id: the collection). The entity must be
// known and the id a GUID (checked before the faults), the operation declared
// and the record present (checked when it runs); the answer is the declared
// response. The other keys of data are the operation's parameters, which the
// emulator does not read.
func (e *Emulator) prepBound(md protocol.XrmMetaData, data json.RawMessage) (prepared, error) {
	param := *md.BoundParameter
	var args map[string]json.RawMessage
	if t := bytes.TrimSpace(data); len(t) > 0 && string(t) != "null" {
		if err := json.Unmarshal(t, &args); err != nil {
			return prepared{}, protocol.InvalidParams("\"data\" must be a JSON object of the operation's parameters: %v", err)
		}
	}
	target, err := protocol.BoundTarget(args[param], param)
	if err != nil {
		return prepared{}, err
	}
	ent, err := e.entityParam(target.EntityType)
	if err != nil {
		return prepared{}, err
	}
	var id string
	if target.ID != "" {
		if id, err = idParam("data."+param+".id", target.ID); err != nil {
			return prepared{}, err
		}
	}
	return prepared{entity: ent.LogicalName, run: func() (json.RawMessage, error) {
		op := e.operation(md.OperationName)
		if op.Name == "" {
			return nil, errSegment(crmNamespace + strings.TrimPrefix(md.OperationName, crmNamespace))
		}
		if id != "" && !e.exists(ent, id) {
			return nil, e.notFound(ent.LogicalName, id)
		}
		body, derr := e.invoke(op.Name, md.OperationType)
		if derr != nil {
			return nil, derr
		}
		return body, nil
	}}, nil
}

// invoke runs WhoAmI or a declared operation and returns its body ("null"
// for no content).
func (e *Emulator) invoke(name string, opType int) (json.RawMessage, *dvError) {
	if name == "WhoAmI" {
		if opType != protocol.XrmOpFunction {
			return nil, errSyntax("'WhoAmI' is a function: call it with operationType 1.")
		}
		b, _ := json.Marshal(whoAmI{BusinessUnitID: e.ids.BusinessUnitID, UserID: e.ids.UserID, OrganizationID: e.ids.OrganizationID})
		return b, nil
	}
	op, ok := e.operations[name]
	if !ok {
		return nil, errSegment(name)
	}
	if want := map[string]int{KindAction: protocol.XrmOpAction, KindFunction: protocol.XrmOpFunction}[op.Kind]; want != opType {
		return nil, errSyntax("'%s' is a%s %s: call it with operationType %d.", name, map[bool]string{true: "n"}[op.Kind == KindAction], op.Kind, want)
	}
	if len(bytes.TrimSpace(op.Response)) == 0 {
		return json.RawMessage("null"), nil
	}
	return op.Response, nil
}

func (e *Emulator) prepCRUD(name string, data json.RawMessage) (prepared, error) {
	d, err := protocol.DecodeXrmCRUDData(data)
	if err != nil {
		return prepared{}, err
	}
	ent, err := e.entityParam(d.Entity())
	if err != nil {
		return prepared{}, err
	}
	op := strings.ToLower(name)
	var id string
	switch op {
	case "retrieve", "update", "delete": // they name a record
		if id, err = idParam("data.id", d.RecordID()); err != nil {
			return prepared{}, err
		}
	}
	switch op {
	case "create":
		ws, err := e.writeBody(ent, "data.payload", d.Payload)
		if err != nil {
			return prepared{}, err
		}
		return e.createOp(ent, ws), nil
	case "retrieve":
		qs := d.Options
		if len(d.Columns) > 0 && !strings.Contains(qs, "$select") {
			qs = strings.TrimPrefix(qs, "?") + "&$select=" + strings.Join(d.Columns, ",")
		}
		q, derr := parseQuery(e.cat, ent, qs)
		if derr != nil {
			return prepared{}, derr
		}
		return e.retrieveOp(ent, id, q), nil
	case "update":
		ws, err := e.writeBody(ent, "data.payload", d.Payload)
		if err != nil {
			return prepared{}, err
		}
		return e.updateOp(ent, id, ws), nil
	case "delete":
		return e.deleteOp(ent, id), nil
	}
	return prepared{}, &dvError{http.StatusBadRequest, CodeQuerySyntax,
		"The CRUD operationName must be Create, Retrieve, Update or Delete, got '" + name + "'."}
}
