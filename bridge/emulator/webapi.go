package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// WebAPIPrefix is where the Dataverse Web API face is mounted.
const WebAPIPrefix = "/api/data/v9.2/"

// maxBodyBytes bounds a Web API request body.
const maxBodyBytes = 4 << 20

// WebAPIHandler returns the Dataverse Web API face over the same store. It
// expects the full path starting with /api/data/v9.2/ (a path without the
// prefix, as http.StripPrefix leaves it, works too). Routes:
//
//	GET    <set>?$select&$filter&$top&$expand&$orderby&$count  → {"@odata.context",["@odata.count",]"value":[…]}
//	POST   <set>               → 204 + OData-EntityId, or 201 + body with Prefer: return=representation
//	GET    <set>(<guid>)       → the record (304 for a matching If-None-Match etag)
//	PATCH  <set>(<guid>)       → upsert; If-Match: * update-only (404), If-None-Match: * create-only (412)
//	DELETE <set>(<guid>)       → 204 or 404; 412 when If-Match names another version
//	GET    <set>/$count?$filter → the number of matching records as text (at most 5000)
//	GET    $metadata           → a CSDL document of what the emulator serves (webapi_csdl.go)
//	POST   $batch              → multipart/mixed, atomic change sets (webapi_batch.go)
//	GET    <set>?…  Prefer: odata.maxpagesize=N  → pages with @odata.nextLink (see webapi_paging.go)
//	GET    EntityDefinitions(LogicalName='contact')?$select&$expand=Attributes($select=…)
//	GET    EntityDefinitions(LogicalName='contact')/Attributes[/Microsoft.Dynamics.CRM.LookupAttributeMetadata]
//	GET    WhoAmI, RetrieveVersion, GET <function>, POST <action>  (schema "operations")
//	POST   <set>(<guid>)/Microsoft.Dynamics.CRM.<action>  bound action (GET for a bound function);
//	       <set>/Microsoft.Dynamics.CRM.<action> bound to the collection
//	GET    systemusers(<userId>), usersettingscollection(<userId>), organizations(<orgId>)
//	       the emulator's own user and org, for getenvironment (webapi_env.go)
//
// Errors are {"error":{"code":"0x…","message":"…"}} with Dataverse's status.
// Fault rules apply under the names createrecord, retrieverecord,
// updaterecord, deleterecord, search and execute.
func (e *Emulator) WebAPIHandler() http.Handler { return http.HandlerFunc(e.serveWebAPI) }

type webReq struct {
	w    http.ResponseWriter
	r    *http.Request
	base string // "http://host/api/data/v9.2/"
}

func (e *Emulator) serveWebAPI(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, WebAPIPrefix)
	rest = strings.TrimPrefix(rest, "/")
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	wr := &webReq{w: w, r: r, base: scheme + "://" + r.Host + WebAPIPrefix}
	w.Header().Set("OData-Version", "4.0")
	if rest == "" {
		if wr.allow(http.MethodGet) {
			e.webServiceDocument(wr)
		}
		return
	}
	segs := splitTop(rest, '/')
	switch {
	case len(segs) == 3 && segs[2] == "$ref":
		first, derr := parseSegment(segs[0])
		if derr != nil {
			wr.fail(derr)
			return
		}
		e.webRef(wr, first, segs[1])
		return
	case segs[len(segs)-1] == "$ref":
		wr.fail(errNotImplemented("$ref on '%s': it implements <set>(<guid>)/<lookup>/$ref", rest))
		return
	case segs[0] == "$batch" && len(segs) == 1:
		e.webBatch(wr)
		return
	case segs[0] == "$metadata" && len(segs) == 1:
		e.webMetadata(wr)
		return
	}
	first, derr := parseSegment(segs[0])
	if derr != nil {
		wr.fail(derr)
		return
	}
	if first.name == "EntityDefinitions" {
		if wr.allow(http.MethodGet) {
			e.webEntityDefinitions(wr, first, segs[1:])
		}
		return
	}
	if len(segs) == 2 {
		e.webBound(wr, first, segs[1])
		return
	}
	if len(segs) > 2 {
		wr.fail(errSegment(segs[2]))
		return
	}
	name, key, hasKey := first.name, first.key, first.hasKey
	switch {
	case name == "WhoAmI":
		if !wr.allow(http.MethodGet) {
			return
		}
		e.webInvoke(wr, name, protocol.XrmOpFunction)
	case e.cat.bySet[name] != nil:
		e.webEntitySet(wr, e.cat.bySet[name], key, hasKey)
	case e.operation(name).Name != "":
		e.webOperation(wr, e.operation(name))
	case name == "RetrieveVersion":
		e.webRetrieveVersion(wr)
	case systemSets[name] != nil:
		e.webSystem(wr, systemSets[name], name, key, hasKey)
	default:
		wr.fail(errSegment(name))
	}
}

// webServiceDocument answers GET /api/data/v9.2/ with the OData service
// document, as Dataverse does: every entity set the emulator serves (its
// tables, the read-only system tables and EntityDefinitions), by name.
func (e *Emulator) webServiceDocument(wr *webReq) {
	names := []string{"EntityDefinitions"}
	for _, n := range e.cat.names {
		names = append(names, e.cat.byLogical[n].EntitySetName)
	}
	for n := range systemSets {
		if e.cat.bySet[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	value := make([]map[string]string, 0, len(names))
	for _, n := range slices.Compact(names) {
		value = append(value, map[string]string{"name": n, "kind": "EntitySet", "url": n})
	}
	wr.json(http.StatusOK, map[string]any{"@odata.context": wr.base + "$metadata", "value": value})
}

// segment is one path segment: a name and an optional key in parentheses
// ("contacts(<guid>)", "EntityDefinitions(LogicalName='x')",
// "new_Fn(Queue=@Queue)").
type segment struct {
	raw    string
	name   string
	key    string
	hasKey bool
}

func parseSegment(raw string) (segment, *dvError) {
	sg := segment{raw: raw}
	sg.name, sg.key, sg.hasKey = strings.Cut(raw, "(")
	if sg.hasKey {
		var ok bool
		if sg.key, ok = strings.CutSuffix(sg.key, ")"); !ok {
			return sg, errSyntax("Bad Request - Error in query syntax: '%s' is missing its closing ')'.", raw)
		}
	}
	return sg, nil
}

func (wr *webReq) allow(methods ...string) bool {
	for _, m := range methods {
		if wr.r.Method == m {
			return true
		}
	}
	wr.w.Header().Set("Allow", strings.Join(methods, ", "))
	wr.fail(&dvError{http.StatusMethodNotAllowed, CodeQuerySyntax,
		"The HTTP method '" + wr.r.Method + "' is not allowed for the resource '" + strings.TrimPrefix(wr.r.URL.Path, WebAPIPrefix) + "'."})
	return false
}

func (wr *webReq) fail(d *dvError) {
	wr.json(d.Status, map[string]any{"error": map[string]string{"code": d.Code, "message": d.Message}})
}

func (wr *webReq) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"0x80040216","message":"encode response"}}`)
	}
	wr.w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	wr.w.WriteHeader(status)
	_, _ = wr.w.Write(b)
}

func (wr *webReq) raw(status int, b []byte) {
	wr.w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	wr.w.WriteHeader(status)
	_, _ = wr.w.Write(b)
}

// gate applies the fault profile; false means the answer was written (or
// the client is gone).
func (e *Emulator) webGate(wr *webReq, method, entity string) bool {
	err := e.gate(wr.r.Context(), e.faults.decide(method, entity))
	if err == nil {
		return true
	}
	var d *dvError
	if errors.As(err, &d) {
		if ie := (*injectedError)(nil); errors.As(err, &ie) && ie.retryAfter > 0 {
			wr.w.Header().Set("Retry-After", retryAfterSeconds(ie.retryAfter))
		}
		wr.fail(d)
	}
	return false // a drop: the client went away, nothing to write
}

func (e *Emulator) webInvoke(wr *webReq, name string, opType int) {
	if !e.webGate(wr, protocol.MessageType(protocol.BackendExecute), "") {
		return
	}
	body, derr := e.invoke(name, opType)
	e.completed("execute", time.Time{})
	if derr != nil {
		wr.fail(derr)
		return
	}
	if name == "WhoAmI" {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		m["@odata.context"] = wr.base + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
		wr.json(http.StatusOK, m)
		return
	}
	if string(body) == "null" {
		wr.w.WriteHeader(http.StatusNoContent)
		return
	}
	wr.raw(http.StatusOK, body)
}

func (e *Emulator) webEntitySet(wr *webReq, ent *entity, key string, hasKey bool) {
	if !hasKey && wr.r.Method == http.MethodGet {
		if doc, ok, derr := cutFetchXML(wr.r.URL.RawQuery); ok {
			e.webFetch(wr, ent, doc, derr)
			return
		}
	}
	rawQuery, pg, derr := cutSkipToken(webQuery(wr.r.URL.RawQuery))
	if derr == nil && pg.offset > 0 && (hasKey || wr.r.Method != http.MethodGet) {
		derr = errSyntax("$skiptoken applies only to GET of a collection such as %s.", ent.EntitySetName)
	}
	if derr != nil {
		wr.fail(derr)
		return
	}
	q, derr := parseQuery(e.cat, ent, rawQuery)
	if derr == nil && q.apply != nil && (hasKey || wr.r.Method != http.MethodGet) {
		derr = errSyntax("$apply applies to GET of a collection such as %s.", ent.EntitySetName)
	}
	if derr != nil {
		wr.fail(derr)
		return
	}
	if q.ann = parseAnnotations(wr.r.Header.Get("Prefer")); q.ann.header != "" {
		wr.w.Header().Add("Preference-Applied", q.ann.header)
	}
	if !hasKey {
		switch wr.r.Method {
		case http.MethodGet:
			e.webSearch(wr, ent, q, rawQuery, pg)
		case http.MethodPost:
			e.webCreate(wr, ent, q)
		default:
			wr.allow(http.MethodGet, http.MethodPost)
		}
		return
	}
	id, ok := normalizeID(key)
	if !ok {
		e.webAltKey(wr, ent, key, q)
		return
	}
	switch wr.r.Method {
	case http.MethodGet:
		e.webRetrieve(wr, ent, id, q)
	case http.MethodPatch:
		e.webUpsert(wr, ent, id, q)
	case http.MethodDelete:
		e.webDelete(wr, ent, id)
	default:
		wr.allow(http.MethodGet, http.MethodPatch, http.MethodDelete)
	}
}

// webDelete deletes one record (DELETE, by id or alternate key), honouring
// If-Match: 204, or the Dataverse error.
func (e *Emulator) webDelete(wr *webReq, ent *entity, id string) {
	if !e.webGate(wr, "deleterecord", ent.LogicalName) {
		return
	}
	derr := e.removeIf(ent, id, strings.TrimSpace(wr.r.Header.Get("If-Match")))
	e.completed("deleterecord", time.Time{})
	if derr != nil {
		wr.fail(derr)
		return
	}
	wr.w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) webRetrieve(wr *webReq, ent *entity, id string, q *query) {
	if !e.webGate(wr, "retrieverecord", ent.LogicalName) {
		return
	}
	rec, derr := e.retrieve(ent, id, q)
	e.completed("retrieverecord", time.Time{})
	if derr != nil {
		wr.fail(derr)
		return
	}
	if inm := wr.r.Header.Get("If-None-Match"); inm != "" && len(q.expands) == 0 && q.ann.header == "" && inm == rec["@odata.etag"] {
		wr.w.WriteHeader(http.StatusNotModified)
		return
	}
	rec["@odata.context"] = wr.base + "$metadata#" + q.contextPath(ent.EntitySetName) + "/$entity"
	wr.json(http.StatusOK, rec)
}

func (wr *webReq) body(ent *entity, cat *catalog) (*writeSet, *dvError) {
	b, err := io.ReadAll(http.MaxBytesReader(wr.w, wr.r.Body, maxBodyBytes))
	if err != nil {
		return nil, errSyntax("Cannot read the request body: %v", err)
	}
	return parseWrite(ent, b, cat)
}

func (wr *webReq) opts() writeOpts {
	return writeOpts{
		dupDetect: strings.EqualFold(strings.TrimSpace(wr.r.Header.Get("MSCRM.SuppressDuplicateDetection")), "false"),
		ifMatch:   strings.TrimSpace(wr.r.Header.Get("If-Match")),
		ifNone:    strings.TrimSpace(wr.r.Header.Get("If-None-Match")) == "*",
	}
}

func (wr *webReq) wantsRepresentation() bool {
	return strings.Contains(wr.r.Header.Get("Prefer"), "return=representation")
}

func (e *Emulator) webCreate(wr *webReq, ent *entity, q *query) {
	e.webWrite(wr, ent, "createrecord", q, http.StatusCreated, func(ws *writeSet) (string, *dvError) {
		opts := wr.opts()
		opts.ifMatch, opts.ifNone = "", false
		r, derr := e.create(ent, ws, opts)
		if derr != nil {
			return "", derr
		}
		return r.fields.str(ent.PrimaryIDAttribute), nil
	})
}

// webWrite runs one Web API write (operation op): the body parsed against
// ent, the fault gate, write, then the answer (see webWritten).
func (e *Emulator) webWrite(wr *webReq, ent *entity, op string, q *query, repStatus int, write func(ws *writeSet) (id string, derr *dvError)) {
	ws, derr := wr.body(ent, e.cat)
	if derr != nil {
		wr.fail(derr)
		return
	}
	if !e.webGate(wr, op, ent.LogicalName) {
		return
	}
	id, derr := write(ws)
	e.completed(op, time.Time{})
	if derr != nil {
		wr.fail(derr)
		return
	}
	e.webWritten(wr, ent, id, q, repStatus)
}

// webWritten answers a successful write: the representation with
// Prefer: return=representation, else 204 + OData-EntityId.
func (e *Emulator) webWritten(wr *webReq, ent *entity, id string, q *query, repStatus int) {
	if wr.wantsRepresentation() {
		if rec, derr := e.retrieve(ent, id, q); derr == nil {
			rec["@odata.context"] = wr.base + "$metadata#" + q.contextPath(ent.EntitySetName) + "/$entity"
			wr.w.Header().Add("Preference-Applied", "return=representation")
			wr.json(repStatus, rec)
			return
		}
	}
	wr.w.Header().Set("OData-EntityId", wr.base+ent.EntitySetName+"("+id+")")
	wr.w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) webUpsert(wr *webReq, ent *entity, id string, q *query) {
	e.webWrite(wr, ent, "updaterecord", q, http.StatusOK, func(ws *writeSet) (string, *dvError) {
		_, _, derr := e.update(ent, id, ws, true, wr.opts())
		q.expands = nil // Dataverse ignores $expand on PATCH representations
		return id, derr
	})
}

// webFetch answers GET <set>?fetchXml=…: one page of the FetchXML query,
// with Dataverse's paging annotations.
func (e *Emulator) webFetch(wr *webReq, ent *entity, doc string, derr *dvError) {
	if derr != nil {
		wr.fail(derr)
		return
	}
	q, derr := e.parseFetch(ent, doc)
	if derr != nil {
		wr.fail(derr)
		return
	}
	if !e.webGate(wr, "search", ent.LogicalName) {
		return
	}
	res, derr := e.runFetch(q)
	e.completed("search", time.Time{})
	if derr != nil {
		wr.fail(derr)
		return
	}
	out := map[string]any{"@odata.context": wr.base + "$metadata#" + ent.EntitySetName, "value": res.rows}
	if q.count > 0 || q.page > 1 {
		out["@Microsoft.Dynamics.CRM.morerecords"] = res.more
	}
	if res.more {
		out["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = fetchPagingCookie(res.page)
	}
	if q.total {
		out["@Microsoft.Dynamics.CRM.totalrecordcount"] = min(res.total, maxTop)
		out["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = res.total > maxTop
	}
	wr.json(http.StatusOK, out)
}
