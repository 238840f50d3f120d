package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// execute serves xrm.execute: actions, functions and CRUD requests. The
// result is the parsed response body (null for 204), as Enreach resolves.
func (b *Backend) execute(ctx context.Context, a attempt, params json.RawMessage) (json.RawMessage, error) {
	var p protocol.XrmExecuteParams
	if err := protocol.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	md := p.MetaData
	if md.OperationName == "" {
		return nil, protocol.InvalidParams("\"metaData.operationName\" is blank: name the action, function or CRUD operation")
	}
	switch md.OperationType {
	case protocol.XrmOpCRUD:
		return b.executeCRUD(ctx, a, md.OperationName, p.Data)
	case protocol.XrmOpAction, protocol.XrmOpFunction:
		return b.executeOperation(ctx, a, md, p.Data)
	}
	return nil, protocol.InvalidParams("\"metaData.operationType\" must be 0 (action), 1 (function) or 2 (CRUD), got %d", md.OperationType)
}

func (b *Backend) executeCRUD(ctx context.Context, a attempt, name string, data json.RawMessage) (json.RawMessage, error) {
	d, err := protocol.DecodeXrmCRUDData(data)
	if err != nil {
		return nil, err
	}
	logical, id := d.Entity(), d.RecordID()
	if err := protocol.RequireEntity("data.etn", logical); err != nil {
		return nil, err
	}
	switch strings.ToLower(name) {
	case "create":
		body, err := protocol.NormalizeObject("data.payload", d.Payload)
		if err != nil {
			return nil, err
		}
		return b.createRecord(ctx, a, logical, body)
	case "retrieve":
		qs := d.Options
		if len(d.Columns) > 0 && !strings.Contains(qs, "$select") {
			qs = strings.TrimPrefix(qs, "?")
			if qs != "" {
				qs += "&"
			}
			qs += "$select=" + strings.Join(d.Columns, ",")
		}
		return b.retrieveRecord(ctx, a, logical, id, qs)
	case "update":
		body, err := protocol.NormalizeObject("data.payload", d.Payload)
		if err != nil {
			return nil, err
		}
		return b.updateRecord(ctx, a, logical, id, body)
	case "delete":
		return b.deleteRecord(ctx, a, logical, id)
	}
	return nil, protocol.InvalidParams("\"metaData.operationName\" of a CRUD request must be Create, Retrieve, Update or Delete, got %q", name)
}

// executeOperation calls an action (POST, parameters in the body) or a
// function (GET, parameters as aliases). A bound operation
// (boundParameter "entity") takes its target from data.entity
// {entityType, id} and is addressed as <set>(<id>)/Microsoft.Dynamics.CRM.<name>.
func (b *Backend) executeOperation(ctx context.Context, a attempt, md protocol.XrmMetaData, data json.RawMessage) (json.RawMessage, error) {
	if err := checkOperationName(md.OperationName); err != nil {
		return nil, err
	}
	args := map[string]json.RawMessage{}
	if t := bytes.TrimSpace(data); len(t) > 0 && string(t) != "null" {
		if err := json.Unmarshal(t, &args); err != nil {
			return nil, protocol.InvalidParams("\"data\" must be a JSON object of the operation's parameters: %v", err)
		}
	}
	delete(args, "getMetadata")
	path := md.OperationName
	if md.BoundParameter != nil && *md.BoundParameter != "" {
		target, err := protocol.BoundTarget(args[*md.BoundParameter], *md.BoundParameter)
		if err != nil {
			return nil, err
		}
		delete(args, *md.BoundParameter)
		d, err := b.entity(ctx, a, target.EntityType)
		if err != nil {
			return nil, err
		}
		prefix := d.EntitySetName
		if target.ID != "" {
			id, err := guid("data."+*md.BoundParameter+".id", target.ID)
			if err != nil {
				return nil, err
			}
			prefix = recordPath(d, id)
		}
		if !strings.Contains(path, ".") {
			path = "Microsoft.Dynamics.CRM." + path
		}
		path = prefix + "/" + path
	}
	var r request
	if md.OperationType == protocol.XrmOpFunction {
		names := make([]string, 0, len(args))
		for k := range args {
			if err := checkName("data."+k, k); err != nil {
				return nil, err
			}
			names = append(names, k)
		}
		sort.Strings(names)
		var decl, alias []string
		for _, k := range names {
			decl = append(decl, k+"=@"+k)
			alias = append(alias, "@"+k+"="+url.QueryEscape(odataLiteral(args[k])))
		}
		r = request{method: http.MethodGet, path: path + "(" + strings.Join(decl, ",") + ")", query: strings.Join(alias, "&")}
	} else {
		body, err := json.Marshal(args)
		if err != nil {
			return nil, protocol.InvalidParams("\"data\": %v", err)
		}
		r = request{method: http.MethodPost, path: path, body: body}
	}
	res, err := b.do(ctx, a, r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(res.body)) == 0 {
		return json.RawMessage("null"), nil
	}
	if res.body[0] != '{' {
		return res.body, nil
	}
	m, err := stripContext(res.body)
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// odataLiteral renders a JSON value as a function parameter alias value:
// strings in single quotes (quotes doubled), other values as JSON.
func odataLiteral(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return string(bytes.TrimSpace(v))
}

// checkOperationName accepts a (possibly namespace-qualified) action or
// function name: schema-name segments separated by dots.
func checkOperationName(s string) error {
	for _, seg := range strings.Split(s, ".") {
		if checkName("metaData.operationName", seg) != nil {
			return protocol.InvalidParams("\"metaData.operationName\" must be an action or function name like \"WhoAmI\" or \"new_Ping\", got %q", s)
		}
	}
	return nil
}
