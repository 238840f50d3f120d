package emulator

import (
	"net/http"
	"slices"
	"strings"
)

// The metadata routes of the Web API face, shaped like Dataverse's:
//
//	GET EntityDefinitions?$select=…                                   → {"value":[EntityMetadata…]}
//	GET EntityDefinitions(LogicalName='x')?$select=…&$expand=Attributes($select=…)
//	GET EntityDefinitions(LogicalName='x')/Attributes?$select=…       → {"value":[AttributeMetadata…]}
//	GET EntityDefinitions(LogicalName='x')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=LogicalName,Targets
//
// As in Dataverse, MetadataId (the key) is always returned, every attribute
// carries its "@odata.type", and Targets is a property of the lookup cast
// only (selecting it on Attributes is a 400). An unknown property in
// $select is 400 0x0 "Could not find a property named '…' on type
// 'Microsoft.Dynamics.CRM.EntityMetadata'". Attributes are listed as
// cif.getEntityMetadata lists them: the columns sorted, then the lookups
// sorted (system columns such as createdon are not listed). MetadataIds are
// stable GUIDs derived from the names.

// Selectable properties (MetadataId is always added).
var (
	entityProps    = []string{"LogicalName", "EntitySetName", "LogicalCollectionName", "PrimaryIdAttribute", "PrimaryNameAttribute", "IsActivity"}
	attributeProps = []string{"LogicalName", "EntityLogicalName", "AttributeType", "IsPrimaryId", "IsPrimaryName"}
	lookupProps    = append(slices.Clone(attributeProps), "Targets")
)

const (
	typeEntityMetadata    = "EntityMetadata"
	typeAttributeMetadata = "AttributeMetadata"
	typeLookupMetadata    = "LookupAttributeMetadata"
)

// metaQuery is a parsed metadata query: selected entity properties,
// whether Attributes are expanded and which of their properties.
type metaQuery struct {
	selects     []string // nil: all
	expandAttrs bool
	attrSelects []string   // nil: all
	filter      filterNode // $filter on a collection (EntityDefinitions, Attributes)
}

func (e *Emulator) webEntityDefinitions(wr *webReq, first segment, rest []string) {
	if !first.hasKey {
		if len(rest) > 0 {
			wr.fail(errSyntax("Address one entity before '/%s': EntityDefinitions(LogicalName='<name>')/%s.", rest[0], rest[0]))
			return
		}
		mq, derr := parseMetaQuery(webQuery(wr.r.URL.RawQuery), entityProps, typeEntityMetadata, true, true)
		if derr != nil {
			wr.fail(derr)
			return
		}
		defs := []map[string]any{}
		for _, n := range e.cat.names {
			ent := e.cat.byLogical[n]
			if mq.filter != nil && !mq.filter.match(metaRecord(entityDefinition(ent, metaQuery{}))) {
				continue
			}
			defs = append(defs, entityDefinition(ent, mq))
		}
		wr.json(http.StatusOK, map[string]any{"@odata.context": wr.base + "$metadata#EntityDefinitions", "value": defs})
		return
	}
	ent, derr := e.definitionKey(first.key)
	if derr != nil {
		wr.fail(derr)
		return
	}
	switch {
	case len(rest) == 0:
		mq, derr := parseMetaQuery(wr.r.URL.RawQuery, entityProps, typeEntityMetadata, true, false)
		if derr != nil {
			wr.fail(derr)
			return
		}
		def := entityDefinition(ent, mq)
		def["@odata.context"] = wr.base + "$metadata#EntityDefinitions" + contextSelect(mq) + "/$entity"
		wr.json(http.StatusOK, def)
	case rest[0] == "Attributes" && len(rest) <= 2:
		props, typ, lookupsOnly := attributeProps, typeAttributeMetadata, false
		if len(rest) == 2 {
			if rest[1] != crmNamespace+typeLookupMetadata {
				wr.fail(errSegment(rest[1]))
				return
			}
			props, typ, lookupsOnly = lookupProps, typeLookupMetadata, true
		}
		mq, derr := parseMetaQuery(webQuery(wr.r.URL.RawQuery), props, typ, false, true)
		if derr != nil {
			wr.fail(derr)
			return
		}
		attrs := attributeDefinitions(ent, mq.selects, lookupsOnly)
		if mq.filter != nil {
			all := attributeDefinitions(ent, nil, lookupsOnly)
			kept := attrs[:0]
			for i, a := range attrs {
				if mq.filter.match(metaRecord(all[i])) {
					kept = append(kept, a)
				}
			}
			attrs = kept
		}
		wr.json(http.StatusOK, map[string]any{
			"@odata.context": wr.base + "$metadata#EntityDefinitions('" + entityMetadataID(ent) + "')/" + strings.Join(rest, "/"),
			"value":          attrs})
	default:
		wr.fail(errSegment(strings.Join(rest, "/")))
	}
}

// definitionKey resolves LogicalName='x' (or a MetadataId).
func (e *Emulator) definitionKey(key string) (*entity, *dvError) {
	logical, ok := strings.CutPrefix(key, "LogicalName=")
	if ok {
		logical, ok = strings.CutPrefix(logical, "'")
		logical, ok = strings.CutSuffix(logical, "'")
	}
	if !ok {
		if id, isID := normalizeID(key); isID {
			for _, n := range e.cat.names {
				if entityMetadataID(e.cat.byLogical[n]) == id {
					return e.cat.byLogical[n], nil
				}
			}
			return nil, &dvError{http.StatusNotFound, CodeRecordNotFound, "Could not find an entity with MetadataId '" + id + "'."}
		}
		return nil, errSyntax("The key of EntityDefinitions must be LogicalName='<name>' or a MetadataId, got '%s'.", key)
	}
	ent := e.cat.byLogical[logical]
	if ent == nil {
		return nil, &dvError{http.StatusNotFound, CodeRecordNotFound, "Could not find an entity with LogicalName '" + logical + "'."}
	}
	return ent, nil
}

// parseMetaQuery reads $select (checked against props of typ) and, when
// canExpand, $expand=Attributes($select=…).
func parseMetaQuery(raw string, props []string, typ string, canExpand, canFilter bool) (metaQuery, *dvError) {
	var mq metaQuery
	seen := map[string]bool{}
	for _, part := range splitTop(raw, '&') {
		name, value, _ := strings.Cut(part, "=")
		name, value = unescape(name), unescape(value)
		if !strings.HasPrefix(name, "$") {
			continue
		}
		if seen[name] {
			return mq, errSyntax("Query option '%s' was specified more than once, but it must be specified at most once.", name)
		}
		seen[name] = true
		var derr *dvError
		switch {
		case name == "$select":
			mq.selects, derr = parseMetaSelect(value, props, typ)
		case name == "$expand" && canExpand:
			derr = parseAttributesExpand(value, &mq)
		case name == "$filter" && canFilter:
			mq.filter, derr = parseFilter(metaEntity(props, typ), value)
		default:
			derr = errSyntax("The emulator serves only $select%s%s on %s, got '%s'.",
				map[bool]string{true: ", $filter"}[canFilter], map[bool]string{true: " and $expand=Attributes($select=…)"}[canExpand], typ, name)
		}
		if derr != nil {
			return mq, derr
		}
	}
	return mq, nil
}

func parseMetaSelect(value string, props []string, typ string) ([]string, *dvError) {
	out := []string{}
	for _, p := range strings.Split(value, ",") {
		p = strings.TrimSpace(p)
		if p == "MetadataId" {
			continue // always returned
		}
		if !slices.Contains(props, p) {
			return nil, &dvError{http.StatusBadRequest, CodeUnknownProperty,
				"Could not find a property named '" + p + "' on type 'Microsoft.Dynamics.CRM." + typ + "'."}
		}
		out = append(out, p)
	}
	return out, nil
}

func parseAttributesExpand(value string, mq *metaQuery) *dvError {
	nav, opts, hasOpts := strings.Cut(strings.TrimSpace(value), "(")
	if strings.TrimSpace(nav) != "Attributes" {
		return &dvError{http.StatusBadRequest, CodeUnknownProperty,
			"Could not find a property named '" + strings.TrimSpace(nav) + "' on type 'Microsoft.Dynamics.CRM.EntityMetadata'. The emulator expands only Attributes."}
	}
	mq.expandAttrs = true
	if !hasOpts {
		return nil
	}
	inner, ok := strings.CutSuffix(strings.TrimSpace(opts), ")")
	if !ok {
		return errSyntax("$expand item '%s' is missing its closing ')'.", value)
	}
	for _, opt := range splitTop(inner, ';') {
		name, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
		if name != "$select" {
			return errSyntax("The emulator supports only $select inside $expand=Attributes(…), got '%s'.", opt)
		}
		sel, derr := parseMetaSelect(v, attributeProps, typeAttributeMetadata)
		if derr != nil {
			return derr
		}
		mq.attrSelects = sel
	}
	return nil
}

// contextSelect renders the selection part of an @odata.context:
// "(LogicalName,Attributes(LogicalName,AttributeType))".
func contextSelect(mq metaQuery) string {
	var parts []string
	parts = append(parts, mq.selects...)
	if mq.expandAttrs {
		parts = append(parts, "Attributes("+strings.Join(mq.attrSelects, ",")+")")
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ",") + ")"
}

func entityMetadataID(ent *entity) string { return stableGUID("entity:" + ent.LogicalName) }

func entityDefinition(ent *entity, mq metaQuery) map[string]any {
	all := map[string]any{
		"LogicalName": ent.LogicalName, "EntitySetName": ent.EntitySetName, "LogicalCollectionName": ent.EntitySetName,
		"PrimaryIdAttribute": ent.PrimaryIDAttribute, "PrimaryNameAttribute": ent.PrimaryNameAttribute,
		"IsActivity": ent.PrimaryIDAttribute == "activityid",
	}
	def := pick(all, mq.selects)
	def["MetadataId"] = entityMetadataID(ent)
	if mq.expandAttrs {
		def["Attributes"] = attributeDefinitions(ent, mq.attrSelects, false)
	}
	return def
}

// attributeDefinitions lists ent's attributes (only the lookups, with
// Targets, when lookupsOnly) restricted to selects (nil: all).
func attributeDefinitions(ent *entity, selects []string, lookupsOnly bool) []map[string]any {
	names := []string{}
	if !lookupsOnly {
		names = append(names, ent.Attributes...)
	}
	names = append(names, ent.lookupNames()...)
	out := make([]map[string]any, 0, len(names))
	for _, n := range names {
		typ := ent.attributeType(n)
		all := map[string]any{
			"LogicalName": n, "EntityLogicalName": ent.LogicalName, "AttributeType": typ,
			"IsPrimaryId": n == ent.PrimaryIDAttribute, "IsPrimaryName": n == ent.PrimaryNameAttribute,
		}
		if lookupsOnly {
			all["Targets"] = slices.Clone(ent.Lookups[n])
		}
		a := pick(all, selects)
		a["@odata.type"] = "#Microsoft.Dynamics.CRM." + metadataTypes[typ]
		a["MetadataId"] = stableGUID("attribute:" + ent.LogicalName + "." + n)
		out = append(out, a)
	}
	return out
}

// pick returns the selected keys of all (every key when selects is nil).
func pick(all map[string]any, selects []string) map[string]any {
	if selects == nil {
		return all
	}
	out := make(map[string]any, len(selects)+2)
	for _, s := range selects {
		out[s] = all[s]
	}
	return out
}

// metaEntity is a pseudo-entity whose columns are the metadata properties,
// so $filter on metadata reuses the record filter.
func metaEntity(props []string, typ string) *entity {
	ent := &entity{EntityMeta: EntityMeta{LogicalName: typ}, columns: map[string]bool{"MetadataId": true}}
	for _, p := range props {
		if p != "Targets" {
			ent.columns[p] = true
		}
	}
	return ent
}

// metaRecord packs a metadata definition as a record for the filter.
func metaRecord(m map[string]any) *record {
	var fields row
	for k, v := range m {
		switch v.(type) {
		case string, bool:
			fields = appendColumn(fields, k, v)
		}
	}
	return &record{fields: fields}
}
