package emulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// crmNamespace qualifies a bound operation's path segment:
// accounts(<id>)/Microsoft.Dynamics.CRM.new_Escalate.
const crmNamespace = "Microsoft.Dynamics.CRM."

// operation finds a schema operation by its name, namespace-qualified or
// not. The zero Operation means none.
func (e *Emulator) operation(name string) Operation {
	return e.operations[strings.TrimPrefix(name, crmNamespace)]
}

// webOperation calls an unbound action (POST) or function (GET).
func (e *Emulator) webOperation(wr *webReq, op Operation) {
	if op.Kind == KindFunction && !wr.allow(http.MethodGet) || op.Kind == KindAction && !wr.allow(http.MethodPost) {
		return
	}
	e.webInvoke(wr, op.Name, map[string]int{KindAction: protocol.XrmOpAction, KindFunction: protocol.XrmOpFunction}[op.Kind])
}

// webBound serves an operation bound to a record,
// <set>(<guid>)/Microsoft.Dynamics.CRM.<name>[(<parameters>)], or to the
// collection, <set>/Microsoft.Dynamics.CRM.<name>, the way Dataverse
// resolves the path:
//
//   - an unknown entity set is 404 0x8006088a "Resource not found for the
//     segment '<set>'";
//   - a segment without the Microsoft.Dynamics.CRM. namespace names a
//     property: 400 0x0 "Could not find a property named …" when there is no
//     such column (the face does not serve single-property paths either);
//   - an unknown operation is 404 0x8006088a "Resource not found for the
//     segment 'Microsoft.Dynamics.CRM.<name>'";
//   - a key that is not a GUID is 400; a record that does not exist is 404
//     0x80040217 "<entity> With Id = <guid> Does Not Exist";
//   - an action answers only POST, a function only GET (405).
//
// The schema does not say what an operation is bound to, so every declared
// operation may be called unbound, bound to any record or to any
// collection; it answers with its declared response.
func (e *Emulator) webBound(wr *webReq, target segment, opSeg string) {
	ent := e.cat.bySet[target.name]
	if ent == nil {
		wr.fail(errSegment(target.name))
		return
	}
	name, _, _ := strings.Cut(opSeg, "(")
	if name == "$count" && !target.hasKey {
		e.webCount(wr, ent)
		return
	}
	if !strings.HasPrefix(name, crmNamespace) {
		if ent.columns[name] && target.hasKey && opSeg == name {
			e.webProperty(wr, ent, target, name)
			return
		}
		if rel, key, ok := e.manyRef(ent, opSeg); ok && key == "" && target.hasKey {
			if wr.r.Method != http.MethodGet {
				wr.fail(errNotImplemented("%s on a related collection (%s(…)/%s): create the record in %s with the lookup bound",
					wr.r.Method, target.name, opSeg, e.cat.byLogical[rel.entity].EntitySetName))
				return
			}
			e.webRelated(wr, ent, target, rel)
			return
		}
		wr.fail(errUnknownProperty(name, ent.LogicalName))
		return
	}
	op := e.operation(name)
	if op.Name == "" {
		wr.fail(errSegment(name))
		return
	}
	if target.hasKey {
		if _, ok := e.existingKey(wr, ent, target); !ok {
			return
		}
	}
	e.webOperation(wr, op)
}

// existingKey returns the GUID of the record target names, or answers the
// error (400 for a key that is no GUID, 404 for a missing record) and
// returns false.
func (e *Emulator) existingKey(wr *webReq, ent *entity, target segment) (string, bool) {
	id, ok := normalizeID(target.key)
	if !ok {
		wr.fail(errSyntax("Bad Request - Error in query syntax: the key '%s' is not a GUID (the emulator supports no alternate keys).", target.key))
		return "", false
	}
	if !e.exists(ent, id) {
		wr.fail(e.notFound(ent.LogicalName, id))
		return "", false
	}
	return id, true
}

// exists reports whether a record is in the store.
func (e *Emulator) exists(ent *entity, id string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.store.get(ent.LogicalName, id) != nil
}

// webCount answers GET <set>/$count[?$filter=…]: the number of matching
// records as text/plain, at most 5000 as Dataverse counts.
func (e *Emulator) webCount(wr *webReq, ent *entity) {
	if !wr.allow(http.MethodGet) {
		return
	}
	q, derr := parseQuery(e.cat, ent, webQuery(wr.r.URL.RawQuery))
	if derr != nil {
		wr.fail(derr)
		return
	}
	if q.selects != nil || q.expands != nil || q.orderby != nil || q.top > 0 || q.count || q.apply != nil {
		wr.fail(errSyntax("/$count takes only $filter."))
		return
	}
	if !e.webGate(wr, "search", ent.LogicalName) {
		return
	}
	n := min(len(e.search(ent, q, 0)), maxTop)
	e.completed("search", time.Time{})
	wr.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	wr.w.WriteHeader(http.StatusOK)
	_, _ = wr.w.Write([]byte(strconv.Itoa(n)))
}

// webRelated answers GET <set>(<guid>)/<relationship>, the records of a
// one-to-many relationship of one record (Dataverse's "filtered
// collection", accounts(<id>)/contact_customer_accounts?$select=fullname):
// the many side's collection with its lookup to the record ANDed into
// $filter, so every other query option works as on the set itself.
func (e *Emulator) webRelated(wr *webReq, ent *entity, target segment, rel manyRel) {
	id, ok := e.existingKey(wr, ent, target)
	if !ok {
		return
	}
	raw := wr.r.URL.RawQuery
	if containsFold(raw, "fetchxml") || containsFold(raw, "$apply") || containsFold(raw, "%24apply") {
		wr.fail(errNotImplemented("FetchXML and $apply on a related collection (%s(…)/…): query %s itself", target.name, e.cat.byLogical[rel.entity].EntitySetName))
		return
	}
	cond := lookupValueCol(rel.lookup) + "%20eq%20" + id
	parts := protocol.SplitTop(raw, '&')
	found := false
	for i, p := range parts {
		name, value, _ := strings.Cut(p, "=")
		if unescape(name) == "$filter" {
			parts[i], found = "$filter=("+cond+")%20and%20("+value+")", true
		}
	}
	if !found {
		parts = append(parts, "$filter="+cond)
	}
	r2 := wr.r.Clone(wr.r.Context())
	r2.URL.RawQuery = strings.TrimPrefix(strings.Join(parts, "&"), "&")
	sub := *wr
	sub.r = r2
	e.webEntitySet(&sub, e.cat.byLogical[rel.entity], "", false)
}
