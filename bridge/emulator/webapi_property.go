package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
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
// and collection-valued $ref over the one-to-many relationships the
// emulator knows (oneToMany: the record on the many side gets, or loses,
// its lookup to this one):
//
//	POST   accounts(<guid>)/contact_customer_accounts/$ref ← {"@odata.id": "…/contacts(<guid>)"} → 204
//	DELETE accounts(<guid>)/contact_customer_accounts(<guid>)/$ref → 204
//	DELETE accounts(<guid>)/contact_customer_accounts/$ref?$id=…/contacts(<guid>) → 204
//
// Other navigation properties are unknown (400 0x0, as for any unknown
// property).

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
	if rel, many, ok := e.manyRef(ent, nav); ok {
		e.webCollectionRef(wr, ent, id, rel, many, nav)
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

// manyRef resolves the navigation segment of a collection-valued $ref,
// "contact_customer_accounts" or "contact_customer_accounts(<guid>)", to
// its relationship; key is the record named in the segment ("" when none).
func (e *Emulator) manyRef(ent *entity, nav string) (rel manyRel, key string, ok bool) {
	name, key, _ := strings.Cut(nav, "(")
	key = strings.TrimSuffix(key, ")")
	rel, ok = oneToMany[ent.LogicalName][name]
	if !ok {
		return rel, "", false
	}
	if m := e.cat.byLogical[rel.entity]; m == nil || !containsStr(m.Lookups[rel.lookup], ent.LogicalName) {
		return rel, "", false // a schema changed the lookup: the relationship is not there
	}
	return rel, key, true
}

// webCollectionRef associates (POST) or disassociates (DELETE) a record
// of the many side of rel with the record id of ent: it sets or clears
// that record's lookup.
func (e *Emulator) webCollectionRef(wr *webReq, ent *entity, id string, rel manyRel, key, nav string) {
	many := e.cat.byLogical[rel.entity]
	var ref string
	switch wr.r.Method {
	case http.MethodPost:
		b, err := io.ReadAll(http.MaxBytesReader(wr.w, wr.r.Body, maxBodyBytes))
		var in struct {
			ID string `json:"@odata.id"`
		}
		if err != nil || json.Unmarshal(b, &in) != nil || strings.TrimSpace(in.ID) == "" {
			wr.fail(errSyntax("The body of a $ref request must be {\"@odata.id\": \"<org>/api/data/v9.2/%s(<guid>)\"}.", many.EntitySetName))
			return
		}
		ref = in.ID
	case http.MethodDelete:
		if key != "" {
			ref = many.EntitySetName + "(" + key + ")"
		} else if ref = wr.r.URL.Query().Get("$id"); ref == "" {
			wr.fail(errSyntax("DELETE of a collection-valued $ref names the record: %s(<guid>)/$ref or $ref?$id=<org>/api/data/v9.2/%s(<guid>).", nav, many.EntitySetName))
			return
		}
	default:
		wr.allow(http.MethodPost, http.MethodDelete)
		return
	}
	set, childKey, derr := parseEntityRef(ref)
	if derr != nil {
		wr.fail(derr)
		return
	}
	if set != many.EntitySetName {
		wr.fail(errSyntax("The relationship '%s' holds %s records, not '%s'.", nav, many.LogicalName, set))
		return
	}
	child := childKey.String()
	b := bind{lookup: rel.lookup}
	if wr.r.Method == http.MethodPost {
		if !e.webGate(wr, "retrieverecord", ent.LogicalName) {
			return
		}
		_, derr := e.retrieve(ent, id, &query{selects: []string{ent.PrimaryIDAttribute}})
		e.completed("retrieverecord", time.Time{})
		if derr != nil {
			wr.fail(derr)
			return
		}
		b.target, b.id = ent.LogicalName, uuid.MustParse(id) // normalizeID checked it
	} else {
		rec, derr := e.retrieve(many, child, &query{selects: []string{lookupValueCol(rel.lookup)}})
		if derr != nil {
			wr.fail(derr)
			return
		}
		if rec[lookupValueCol(rel.lookup)] != id {
			wr.w.WriteHeader(http.StatusNoContent) // not associated with this record: nothing to undo
			return
		}
	}
	e.webPatchExisting(wr, many, child, &writeSet{binds: []bind{b}})
}
