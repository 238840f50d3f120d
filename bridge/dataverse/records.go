package dataverse

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/protocol"
)

// recordPath is "<set>(<guid>)".
func recordPath(d entityDef, id string) string { return d.EntitySetName + "(" + id + ")" }

// guid normalises a record id; anything but a GUID is -32602 (it goes into
// the URL path).
func guid(field, id string) (string, error) {
	if err := protocol.RequireID(field, id); err != nil {
		return "", err
	}
	u, err := uuid.Parse(strings.TrimSpace(id))
	if err != nil {
		return "", protocol.InvalidParams("%q must be a GUID, got %q", field, id)
	}
	return u.String(), nil
}

func createResult(d entityDef, id string) (json.RawMessage, error) {
	return json.Marshal(protocol.CreateResult{EntityType: d.LogicalName, ID: id})
}

// typed adapts a method that takes a call's params decoded into a P
// (protocol.DecodeParams names what is wrong) to a handler.
func typed[P any](f func(b *Backend, ctx context.Context, a attempt, p P) (json.RawMessage, error)) handler {
	return func(b *Backend, ctx context.Context, a attempt, params json.RawMessage) (json.RawMessage, error) {
		var p P
		if err := protocol.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		return f(b, ctx, a, p)
	}
}

// record resolves one record: its entity definition and normalised id.
func (b *Backend) record(ctx context.Context, a attempt, logical, rawID string) (entityDef, string, error) {
	id, err := guid("entityId", rawID)
	if err != nil {
		return entityDef{}, "", err
	}
	d, err := b.entity(ctx, a, logical)
	return d, id, err
}

// writeHeaders are the headers of a create or update.
func (b *Backend) writeHeaders(extra map[string]string) map[string]string {
	if b.cfg.DuplicateDetection {
		extra["MSCRM.SuppressDuplicateDetection"] = "false"
	}
	return extra
}

func (b *Backend) create(ctx context.Context, a attempt, p protocol.CreateRecordParams) (json.RawMessage, error) {
	body, err := protocol.NormalizeObject("value", p.Value)
	if err != nil {
		return nil, err
	}
	return b.createRecord(ctx, a, p.EntityName, body)
}

// createRecord POSTs with Prefer: return=representation (selecting only the
// primary key) and reads the new id from the body, or from OData-EntityId
// when the server answered 204 anyway.
func (b *Backend) createRecord(ctx context.Context, a attempt, logical string, body json.RawMessage) (json.RawMessage, error) {
	d, err := b.entity(ctx, a, logical)
	if err != nil {
		return nil, err
	}
	res, err := b.do(ctx, a, request{method: http.MethodPost, path: d.EntitySetName, query: "$select=" + d.PrimaryIDAttribute, body: body,
		header: b.writeHeaders(map[string]string{"Prefer": "return=representation"})})
	if err != nil {
		return nil, err
	}
	id := ""
	if len(res.body) > 0 {
		var rec map[string]any
		if json.Unmarshal(res.body, &rec) == nil {
			id, _ = rec[d.PrimaryIDAttribute].(string)
		}
	}
	if id == "" {
		id = idFromEntityID(res.header.Get("OData-EntityId"))
	}
	if id == "" {
		return nil, protocol.Errorf(protocol.CodeBackend, "dataverse: the create of %s answered %d without the new record's id", logical, res.status)
	}
	return createResult(d, id)
}

// idFromEntityID extracts the GUID of ".../accounts(<guid>)".
func idFromEntityID(h string) string {
	i := strings.LastIndexByte(h, '(')
	if i < 0 || !strings.HasSuffix(h, ")") {
		return ""
	}
	u, err := uuid.Parse(h[i+1 : len(h)-1])
	if err != nil {
		return ""
	}
	return u.String()
}

func (b *Backend) retrieve(ctx context.Context, a attempt, p protocol.RetrieveRecordParams) (json.RawMessage, error) {
	return b.retrieveRecord(ctx, a, p.EntityName, p.EntityID, p.QueryParameters)
}

func (b *Backend) retrieveRecord(ctx context.Context, a attempt, logical, rawID, query string) (json.RawMessage, error) {
	d, id, err := b.record(ctx, a, logical, rawID)
	if err != nil {
		return nil, err
	}
	res, err := b.do(ctx, a, request{method: http.MethodGet, path: recordPath(d, id), query: escapeQuery(query)})
	if err != nil {
		return nil, err
	}
	rec, err := stripContext(res.body)
	if err != nil {
		return nil, err
	}
	return json.Marshal(rec)
}

func (b *Backend) update(ctx context.Context, a attempt, p protocol.UpdateRecordParams) (json.RawMessage, error) {
	body, err := protocol.NormalizeObject("value", p.Value)
	if err != nil {
		return nil, err
	}
	return b.updateRecord(ctx, a, p.EntityName, p.EntityID, body)
}

// updateRecord PATCHes with If-Match: * so that a missing record is a 404,
// never an upsert: a retried update cannot resurrect a deleted record.
func (b *Backend) updateRecord(ctx context.Context, a attempt, logical, rawID string, body json.RawMessage) (json.RawMessage, error) {
	d, id, err := b.record(ctx, a, logical, rawID)
	if err != nil {
		return nil, err
	}
	if _, err := b.do(ctx, a, request{method: http.MethodPatch, path: recordPath(d, id), body: body,
		header: b.writeHeaders(map[string]string{"If-Match": "*"})}); err != nil {
		return nil, err
	}
	return createResult(d, id)
}

func (b *Backend) remove(ctx context.Context, a attempt, p protocol.RecordParams) (json.RawMessage, error) {
	return b.deleteRecord(ctx, a, p.EntityName, p.EntityID)
}

func (b *Backend) deleteRecord(ctx context.Context, a attempt, logical, rawID string) (json.RawMessage, error) {
	d, id, err := b.record(ctx, a, logical, rawID)
	if err != nil {
		return nil, err
	}
	if _, err := b.do(ctx, a, request{method: http.MethodDelete, path: recordPath(d, id)}); err != nil {
		return nil, err
	}
	return createResult(d, id)
}

// search answers cif.search and cif.searchandopenrecords with CIF's shape,
// an object keyed "0", "1", …, holding every record the query matches up
// to its $top, at most MaxSearchRecords: it follows @odata.nextLink from
// page to page (see collect). $search is cut (protocol.CutSearch), as CIF
// does.
func (b *Backend) search(ctx context.Context, a attempt, p protocol.SearchParams) (json.RawMessage, error) {
	d, err := b.entity(ctx, a, p.EntityName)
	if err != nil {
		return nil, err
	}
	recs, err := b.collect(ctx, a, d, protocol.CutSearch(p.QueryParameters)) // $search is only CIF's search-page text
	if err != nil {
		return nil, err
	}
	return protocol.IndexedObject(recs), nil
}
