package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The Web API face serves the few system tables a getenvironment answer is
// read from on a real org (the dataverse backend reads them), built from the
// emulator's environment (Config.Schema "environment"):
//
//	GET RetrieveVersion()                                       → {"Version": crmVersion}
//	GET systemusers(<userId>)?$select=…&$expand=systemuserroles_association($select=roleid,name)
//	GET usersettingscollection(<userId>)?$select=uilanguageid   → userLcid
//	GET organizations(<orgId>)?$select=languagecode,name        → orgLcid, orgUniqueName
//
// Only the emulator's own user and organization exist (any other id is 404
// 0x80040217); the tables are read-only (405). A schema entity with the
// same entity set name takes precedence.

// systemSet is one read-only system table with a single row.
type systemSet struct {
	logical string
	id      func(e *Emulator) string
	row     func(e *Emulator) map[string]any
	navs    map[string]func(e *Emulator) []map[string]any // collection-valued navigation properties
}

var systemSets = map[string]*systemSet{
	"systemusers": {
		logical: "systemuser",
		id:      func(e *Emulator) string { return e.ids.UserID },
		row: func(e *Emulator) map[string]any {
			name := fmt.Sprint(e.env["username"])
			return map[string]any{"systemuserid": e.ids.UserID, "domainname": name, "internalemailaddress": name,
				"fullname": strings.SplitN(name, "@", 2)[0], "_businessunitid_value": e.ids.BusinessUnitID}
		},
		navs: map[string]func(e *Emulator) []map[string]any{"systemuserroles_association": (*Emulator).roleRows},
	},
	"usersettingscollection": {
		logical: "usersettings",
		id:      func(e *Emulator) string { return e.ids.UserID },
		row: func(e *Emulator) map[string]any {
			return map[string]any{"systemuserid": e.ids.UserID, "uilanguageid": e.env["userLcid"], "localeid": e.env["userLcid"]}
		},
	},
	"organizations": {
		logical: "organization",
		id:      func(e *Emulator) string { return e.ids.OrganizationID },
		row: func(e *Emulator) map[string]any {
			return map[string]any{"organizationid": e.ids.OrganizationID, "languagecode": e.env["orgLcid"], "name": e.env["orgUniqueName"]}
		},
	},
}

// roleRows are the security roles of the environment's userRoles.
func (e *Emulator) roleRows() []map[string]any {
	var ids []string
	switch v := e.env["userRoles"].(type) {
	case []string:
		ids = v
	case []any:
		for _, x := range v {
			ids = append(ids, fmt.Sprint(x))
		}
	}
	rows := make([]map[string]any, 0, len(ids))
	for i, id := range ids {
		rows = append(rows, map[string]any{"roleid": id, "name": fmt.Sprintf("Emulator role %d", i+1)})
	}
	return rows
}

// webRetrieveVersion answers the RetrieveVersion function.
func (e *Emulator) webRetrieveVersion(wr *webReq) {
	if !wr.allow(http.MethodGet) {
		return
	}
	wr.json(http.StatusOK, map[string]any{"@odata.context": wr.base + "$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse",
		"Version": fmt.Sprint(e.env["crmVersion"])})
}

func (e *Emulator) webSystem(wr *webReq, set *systemSet, setName, key string, hasKey bool) {
	if !wr.allow(http.MethodGet) {
		return
	}
	id := set.id(e)
	if hasKey {
		got, ok := normalizeID(key)
		if !ok {
			wr.fail(errSyntax("Bad Request - Error in query syntax: the key '%s' is not a GUID.", key))
			return
		}
		if got != id {
			wr.fail(errNotFound(set.logical, got))
			return
		}
	}
	rec, derr := e.systemRow(set, wr.r.URL.RawQuery)
	if derr != nil {
		wr.fail(derr)
		return
	}
	if hasKey {
		rec["@odata.context"] = wr.base + "$metadata#" + setName + "/$entity"
		wr.json(http.StatusOK, rec)
		return
	}
	wr.json(http.StatusOK, map[string]any{"@odata.context": wr.base + "$metadata#" + setName, "value": []map[string]any{rec}})
}

// systemRow renders the row with $select and $expand=<nav>($select=…) applied.
func (e *Emulator) systemRow(set *systemSet, raw string) (map[string]any, *dvError) {
	all := set.row(e)
	out := all
	expanded := map[string][]map[string]any{}
	for _, part := range splitTop(raw, '&') {
		name, value, _ := strings.Cut(part, "=")
		name, value = unescape(name), unescape(value)
		switch name {
		case "$select":
			sel, derr := selectKeys(value, all, set.logical)
			if derr != nil {
				return nil, derr
			}
			out = pick(all, sel)
		case "$expand":
			for _, item := range splitTop(value, ',') {
				nav, opts, _ := strings.Cut(strings.TrimSpace(item), "(")
				rows := set.navs[nav]
				if rows == nil {
					return nil, errUnknownProperty(nav, set.logical)
				}
				list := rows(e)
				if sel, ok := strings.CutPrefix(strings.TrimSuffix(opts, ")"), "$select="); ok && len(list) > 0 {
					keys, derr := selectKeys(sel, list[0], "role")
					if derr != nil {
						return nil, derr
					}
					for i := range list {
						list[i] = pick(list[i], keys)
					}
				}
				expanded[nav] = list
			}
		case "":
		default:
			if strings.HasPrefix(name, "$") {
				return nil, errSyntax("The emulator serves only $select and $expand on %s, got '%s'.", set.logical, name)
			}
		}
	}
	for nav, list := range expanded {
		out[nav] = list
	}
	return out, nil
}

func selectKeys(value string, all map[string]any, logical string) ([]string, *dvError) {
	var keys []string
	for _, k := range strings.Split(value, ",") {
		k = strings.TrimSpace(k)
		if _, ok := all[k]; !ok {
			return nil, errUnknownProperty(k, logical)
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
