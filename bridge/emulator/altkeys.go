package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Alternate keys, declared in the schema file:
//
//	"alternateKeys": {"account": [["accountnumber"]], "contact": [["firstname", "emailaddress1"]]}
//
// and used in Web API paths as Dataverse does: accounts(accountnumber='A-1'),
// contacts(firstname='Joe',emailaddress1='joe@example.com'),
// accounts(_primarycontactid_value=<guid>). GET and DELETE find the record;
// PATCH is an upsert (a missing key creates the record with the key's
// values; If-Match: * makes it update-only). Values compare as Dataverse's
// collation does (case-insensitive).

// maxKeyColumns is Dataverse's limit of columns per alternate key.
const maxKeyColumns = 16

// validateAltKeys checks the schema's alternate keys against the catalog.
func validateAltKeys(cat *catalog, keys map[string][][]string) (map[string][][]string, error) {
	out := map[string][][]string{}
	for logical, list := range keys {
		ent := cat.byLogical[logical]
		if ent == nil {
			return nil, fmt.Errorf("schema: alternateKeys.%s: no such entity", logical)
		}
		for i, k := range list {
			if len(k) == 0 || len(k) > maxKeyColumns {
				return nil, fmt.Errorf("schema: alternateKeys.%s[%d]: a key has 1 to %d columns", logical, i, maxKeyColumns)
			}
			for _, c := range k {
				if !ent.columns[c] || c == ent.PrimaryIDAttribute {
					return nil, fmt.Errorf("schema: alternateKeys.%s[%d]: %q is not a column of %s (a lookup is written _<lookup>_value)", logical, i, c, logical)
				}
			}
			out[logical] = append(out[logical], slices.Clone(k))
		}
	}
	return out, nil
}

// keyValue is one column = value of an alternate-key segment.
type keyValue struct {
	col string
	lit literal
}

// parseAltKey reads "col='v',col2=<guid>" against ent's declared keys.
func (e *Emulator) parseAltKey(ent *entity, key string) ([]keyValue, *dvError) {
	invalid := &dvError{http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf(
		"The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.%s'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.%s'.",
		ent.LogicalName, ent.LogicalName)}
	var kvs []keyValue
	for _, part := range splitTop(key, ',') {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, invalid
		}
		p := &filterParser{src: strings.TrimSpace(value), ent: ent}
		lit, derr := p.parseLiteral()
		if derr != nil || p.pos != len(p.src) || lit.kind == litNull {
			return nil, invalid
		}
		kvs = append(kvs, keyValue{col: strings.TrimSpace(name), lit: lit})
	}
	for _, k := range e.altKeys[ent.LogicalName] {
		if len(k) != len(kvs) {
			continue
		}
		match := true
		for _, kv := range kvs {
			if !slices.Contains(k, kv.col) {
				match = false
			}
		}
		if match {
			return kvs, nil
		}
	}
	return nil, invalid
}

// findByAltKey returns the id of the record with the key's values, "" when
// none.
func (e *Emulator) findByAltKey(ent *entity, kvs []keyValue) string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, r := range e.store.tables[ent.LogicalName].all() {
		all := true
		for _, kv := range kvs {
			if !(&cmpNode{col: kv.col, op: "eq", lit: kv.lit}).match(r) {
				all = false
				break
			}
		}
		if all {
			return r.fields.str(ent.PrimaryIDAttribute)
		}
	}
	return ""
}

func errAltKeyNotFound(ent *entity) *dvError {
	return &dvError{http.StatusNotFound, CodeRecordNotFound,
		fmt.Sprintf("A record with the specified key values does not exist in %s entity", ent.LogicalName)}
}

// webAltKey serves GET, PATCH and DELETE on <set>(<alternate key>).
func (e *Emulator) webAltKey(wr *webReq, ent *entity, key string, q *query) {
	if len(e.altKeys[ent.LogicalName]) == 0 {
		wr.fail(errSyntax("Bad Request - Error in query syntax: the key '%s' is not a GUID, and %s declares no alternate keys (declare them in the schema file's alternateKeys).", key, ent.LogicalName))
		return
	}
	kvs, derr := e.parseAltKey(ent, key)
	if derr != nil {
		wr.fail(derr)
		return
	}
	id := e.findByAltKey(ent, kvs)
	switch wr.r.Method {
	case http.MethodGet, http.MethodDelete:
		if id == "" {
			wr.fail(errAltKeyNotFound(ent))
			return
		}
		if wr.r.Method == http.MethodGet {
			e.webRetrieve(wr, ent, id, q)
			return
		}
		e.webDelete(wr, ent, id)
	case http.MethodPatch:
		if id != "" {
			e.webUpsert(wr, ent, id, q)
			return
		}
		ws, derr := wr.body(ent, e.cat)
		if derr != nil {
			wr.fail(derr)
			return
		}
		opts := wr.opts()
		if opts.ifMatch != "" {
			wr.fail(errAltKeyNotFound(ent))
			return
		}
		for _, kv := range kvs {
			var v any = kv.lit.text
			if kv.lit.kind == litNumber {
				v = json.Number(kv.lit.text)
			}
			ws.fields = appendColumn(ws.fields, kv.col, v)
		}
		if !e.webGate(wr, "updaterecord", ent.LogicalName) {
			return
		}
		r, derr := e.create(ent, ws, writeOpts{dupDetect: opts.dupDetect})
		e.completed("updaterecord", time.Time{})
		if derr != nil {
			wr.fail(derr)
			return
		}
		e.webWritten(wr, ent, r.fields.str(ent.PrimaryIDAttribute), q, http.StatusCreated)
	default:
		wr.allow(http.MethodGet, http.MethodPatch, http.MethodDelete)
	}
}
