package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Single-property requests and single-valued $ref, as Dataverse serves
// them:
//
//	GET    <set>(<guid>)/<column>   → {"@odata.context","value"}; 204 when null
//	PUT    <set>(<guid>)/<column>   ← {"value": …} → 204
//	DELETE <set>(<guid>)/<column>   → 204 (the column is cleared)
//	PUT    <set>(<guid>)/<lookup>/$ref ← {"@odata.id": "…/accounts(<guid>)"} → 204 (associate)
//	DELETE <set>(<guid>)/<lookup>/$ref → 204 (disassociate)
//
// Collection-valued navigation properties are unknown to the emulator
// (400 0x0, as for any unknown property).

// webProperty serves a single column of a record.
func (e *Emulator) webProperty(wr *webReq, ent *entity, target segment, col string) {
	id, ok := normalizeID(target.key)
	if !ok {
		wr.fail(errSyntax("Bad Request - Error in query syntax: the key '%s' is not a GUID (the emulator supports no alternate keys).", target.key))
		return
	}
	switch wr.r.Method {
	case http.MethodGet:
		if !e.webGate(wr, "retrieverecord", ent.LogicalName) {
			return
		}
		rec, derr := e.retrieve(ent, id, &query{selects: []string{col}})
		e.completed("retrieverecord", time.Time{})
		if derr != nil {
			wr.fail(derr)
			return
		}
		if rec[col] == nil {
			wr.w.WriteHeader(http.StatusNoContent)
			return
		}
		wr.json(http.StatusOK, map[string]any{"@odata.context": wr.base + "$metadata#" + ent.EntitySetName + "(" + id + ")/" + col, "value": rec[col]})
	case http.MethodPut, http.MethodDelete:
		value := json.RawMessage("null")
		if wr.r.Method == http.MethodPut {
			b, err := io.ReadAll(http.MaxBytesReader(wr.w, wr.r.Body, maxBodyBytes))
			var in struct {
				Value *json.RawMessage `json:"value"`
			}
			if err != nil || json.Unmarshal(b, &in) != nil || in.Value == nil {
				wr.fail(errSyntax("The body of PUT %s/%s must be {\"value\": <new value>}.", target.raw, col))
				return
			}
			value = *in.Value
		}
		name, _ := json.Marshal(col)
		ws, derr := parseWrite(ent, []byte("{"+string(name)+":"+string(value)+"}"), e.cat)
		if derr != nil {
			wr.fail(derr)
			return
		}
		e.webPatchExisting(wr, ent, id, ws)
	default:
		wr.allow(http.MethodGet, http.MethodPut, http.MethodDelete)
	}
}

// webRef associates (PUT) or disassociates (DELETE) a single-valued lookup.
func (e *Emulator) webRef(wr *webReq, target segment, nav string) {
	ent := e.cat.bySet[target.name]
	if ent == nil {
		wr.fail(errSegment(target.name))
		return
	}
	id, ok := normalizeID(target.key)
	if !target.hasKey || !ok {
		wr.fail(errSyntax("$ref needs a record: <set>(<guid>)/<lookup>/$ref."))
		return
	}
	var ref *string
	switch wr.r.Method {
	case http.MethodPut, http.MethodPost:
		b, err := io.ReadAll(http.MaxBytesReader(wr.w, wr.r.Body, maxBodyBytes))
		var in struct {
			ID string `json:"@odata.id"`
		}
		if err != nil || json.Unmarshal(b, &in) != nil || strings.TrimSpace(in.ID) == "" {
			wr.fail(errSyntax("The body of a $ref request must be {\"@odata.id\": \"<org>/api/data/v9.2/<set>(<guid>)\"}."))
			return
		}
		ref = &in.ID
	case http.MethodDelete:
	default:
		wr.allow(http.MethodPut, http.MethodPost, http.MethodDelete)
		return
	}
	var b bind
	var derr *dvError
	if ref == nil {
		b, derr = parseBind(ent, e.cat, nav, "", true)
	} else {
		b, derr = parseBind(ent, e.cat, nav, *ref, false)
	}
	if derr != nil {
		if _, _, ok := ent.resolveLookup(nav); !ok {
			derr = errUnknownProperty(nav, ent.LogicalName) // e.g. a collection-valued navigation property
		}
		wr.fail(derr)
		return
	}
	e.webPatchExisting(wr, ent, id, &writeSet{binds: []bind{b}})
}

// webPatchExisting updates an existing record (404 when missing) and
// answers 204.
func (e *Emulator) webPatchExisting(wr *webReq, ent *entity, id string, ws *writeSet) {
	if !e.webGate(wr, "updaterecord", ent.LogicalName) {
		return
	}
	_, _, derr := e.update(ent, id, ws, false, writeOpts{ifMatch: strings.TrimSpace(wr.r.Header.Get("If-Match"))})
	e.completed("updaterecord", time.Time{})
	if derr != nil {
		wr.fail(derr)
		return
	}
	wr.w.WriteHeader(http.StatusNoContent)
}
