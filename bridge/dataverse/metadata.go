package dataverse

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/cifbridge/cifbridge/protocol"
)

// entityDef is what the backend needs of an entity's metadata.
type entityDef struct {
	LogicalName          string `json:"LogicalName"`
	EntitySetName        string `json:"EntitySetName"`
	PrimaryIDAttribute   string `json:"PrimaryIdAttribute"`
	PrimaryNameAttribute string `json:"PrimaryNameAttribute"`
}

// metaCache holds entity definitions and getEntityMetadata answers by
// logical name. Metadata does not change while the daemon runs (a schema
// change needs a restart).
type metaCache struct {
	defs cache[entityDef]
	full cache[entityMetadataResult]
}

// cache is a map under a mutex.
type cache[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (c *cache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *cache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]V{}
	}
	c.m[key] = v
}

const entityDefSelect = "$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"

// entity returns the definition of a logical name, from the cache or from
// EntityDefinitions(LogicalName='x').
func (b *Backend) entity(ctx context.Context, a attempt, logical string) (entityDef, error) {
	if err := checkName("entityName", logical); err != nil {
		return entityDef{}, err
	}
	if d, ok := b.meta.defs.get(logical); ok {
		return d, nil
	}
	res, err := b.do(ctx, a, request{method: http.MethodGet, path: "EntityDefinitions(LogicalName='" + logical + "')", query: entityDefSelect})
	if err != nil {
		return entityDef{}, err
	}
	var d entityDef
	if err := json.Unmarshal(res.body, &d); err != nil {
		return entityDef{}, protocol.Errorf(protocol.CodeBackend, "dataverse: decode EntityDefinitions of %q: %v", logical, err)
	}
	if checkName("EntitySetName", d.EntitySetName) != nil || checkName("PrimaryIdAttribute", d.PrimaryIDAttribute) != nil {
		return entityDef{}, protocol.Errorf(protocol.CodeBackend, "dataverse: EntityDefinitions of %q has no usable EntitySetName/PrimaryIdAttribute", logical)
	}
	if d.LogicalName == "" {
		d.LogicalName = logical
	}
	b.meta.defs.put(d.LogicalName, d)
	b.log.Debug().Str("entity", logical).Str("set", d.EntitySetName).Str("key", d.PrimaryIDAttribute).Msg("dataverse entity metadata cached")
	return d, nil
}

// checkName accepts schema names: letters, digits and underscores (what
// Dataverse allows), so a name can go into a URL path or an OData literal
// unescaped.
func checkName(field, s string) error {
	if s == "" || len(s) > 128 {
		return protocol.InvalidParams("%q must be a schema name of 1–128 characters, got %q", field, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return protocol.InvalidParams("%q must hold only letters, digits and '_', got %q", field, s)
		}
	}
	return nil
}

// entityMetadataResult is the whole getEntityMetadata answer of an entity,
// cached like its definition.
type entityMetadataResult struct {
	entityDef
	Attributes []protocol.AttributeMetadata `json:"Attributes"`
}

// lookupTypes are the AttributeTypes whose attributes have Targets.
var lookupTypes = map[string]bool{"Lookup": true, "Customer": true, "Owner": true}

// entityMetadata answers cif.getEntityMetadata as the emulator does: the
// entity definition and its attributes (limited to the names asked for, as
// Xrm does) with their AttributeType, lookups with their Targets. It reads
//
//	EntityDefinitions(LogicalName='x')?$select=…&$expand=Attributes($select=LogicalName,AttributeType)
//
// and, when an attribute is a lookup, the Targets from the lookup cast
// (Targets is not a property of AttributeMetadata, so it cannot be
// expanded with the rest):
//
//	EntityDefinitions(LogicalName='x')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=LogicalName,Targets
//
// The answer is cached per entity, as definitions are.
func (b *Backend) entityMetadata(ctx context.Context, a attempt, p protocol.EntityMetadataParams) (json.RawMessage, error) {
	md, err := b.fullMetadata(ctx, a, p.EntityName)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range p.Attributes {
		want[n] = true
	}
	out := entityMetadataResult{entityDef: md.entityDef, Attributes: []protocol.AttributeMetadata{}}
	for _, at := range md.Attributes {
		if len(want) == 0 || want[at.LogicalName] {
			out.Attributes = append(out.Attributes, at)
		}
	}
	return json.Marshal(out)
}

func (b *Backend) fullMetadata(ctx context.Context, a attempt, logical string) (entityMetadataResult, error) {
	if err := checkName("entityName", logical); err != nil {
		return entityMetadataResult{}, err
	}
	if md, ok := b.meta.full.get(logical); ok {
		return md, nil
	}
	defPath := "EntityDefinitions(LogicalName='" + logical + "')"
	res, err := b.do(ctx, a, request{method: http.MethodGet, path: defPath,
		query: entityDefSelect + "&$expand=Attributes($select=LogicalName,AttributeType)"})
	if err != nil {
		return entityMetadataResult{}, err
	}
	var def struct {
		entityDef
		Attributes []struct {
			LogicalName   string `json:"LogicalName"`
			AttributeType string `json:"AttributeType"`
		} `json:"Attributes"`
	}
	if err := json.Unmarshal(res.body, &def); err != nil {
		return entityMetadataResult{}, protocol.Errorf(protocol.CodeBackend, "dataverse: decode EntityDefinitions of %q: %v", logical, err)
	}
	if def.LogicalName == "" {
		def.LogicalName = logical
	}
	md := entityMetadataResult{entityDef: def.entityDef, Attributes: make([]protocol.AttributeMetadata, 0, len(def.Attributes))}
	hasLookups := false
	for _, at := range def.Attributes {
		md.Attributes = append(md.Attributes, protocol.AttributeMetadata{LogicalName: at.LogicalName, EntityLogicalName: def.LogicalName, AttributeType: at.AttributeType})
		hasLookups = hasLookups || lookupTypes[at.AttributeType]
	}
	if hasLookups {
		res, err := b.do(ctx, a, request{method: http.MethodGet, path: defPath + "/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata",
			query: "$select=LogicalName,Targets"})
		if err != nil {
			return entityMetadataResult{}, err
		}
		var lookups struct {
			Value []struct {
				LogicalName string   `json:"LogicalName"`
				Targets     []string `json:"Targets"`
			} `json:"value"`
		}
		if err := json.Unmarshal(res.body, &lookups); err != nil {
			return entityMetadataResult{}, protocol.Errorf(protocol.CodeBackend, "dataverse: decode the lookups of %q: %v", logical, err)
		}
		targets := map[string][]string{}
		for _, l := range lookups.Value {
			targets[l.LogicalName] = l.Targets
		}
		for i := range md.Attributes {
			md.Attributes[i].Targets = targets[md.Attributes[i].LogicalName]
		}
	}
	if checkName("EntitySetName", def.EntitySetName) == nil && checkName("PrimaryIdAttribute", def.PrimaryIDAttribute) == nil {
		b.meta.defs.put(def.LogicalName, def.entityDef)
	}
	b.meta.full.put(md.LogicalName, md)
	return md, nil
}
