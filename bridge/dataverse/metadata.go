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

// metaCache holds entity definitions by logical name. Definitions do not
// change while the daemon runs (a schema change needs a restart).
type metaCache struct {
	mu sync.Mutex
	m  map[string]entityDef
}

func (c *metaCache) get(logical string) (entityDef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[logical]
	return d, ok
}

func (c *metaCache) put(d entityDef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]entityDef{}
	}
	c.m[d.LogicalName] = d
}

const entityDefSelect = "$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"

// entity returns the definition of a logical name, from the cache or from
// EntityDefinitions(LogicalName='x').
func (b *Backend) entity(ctx context.Context, a attempt, logical string) (entityDef, error) {
	if err := checkName("entityName", logical); err != nil {
		return entityDef{}, err
	}
	if d, ok := b.meta.get(logical); ok {
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
	b.meta.put(d)
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

// attributeMeta is one attribute in a getEntityMetadata answer.
type attributeMeta struct {
	LogicalName       string   `json:"LogicalName"`
	EntityLogicalName string   `json:"EntityLogicalName"`
	AttributeType     string   `json:"AttributeType,omitempty"`
	Targets           []string `json:"Targets,omitempty"`
}

// entityMetadata answers cif.getEntityMetadata: the entity definition and
// its attributes (limited to the names asked for, as Xrm does).
func (b *Backend) entityMetadata(ctx context.Context, a attempt, params json.RawMessage) (json.RawMessage, error) {
	var p protocol.EntityMetadataParams
	if err := protocol.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := checkName("entityName", p.EntityName); err != nil {
		return nil, err
	}
	res, err := b.do(ctx, a, request{method: http.MethodGet, path: "EntityDefinitions(LogicalName='" + p.EntityName + "')",
		query: entityDefSelect + "&$expand=Attributes($select=LogicalName,AttributeType)"})
	if err != nil {
		return nil, err
	}
	var def struct {
		entityDef
		Attributes []struct {
			LogicalName   string   `json:"LogicalName"`
			AttributeType string   `json:"AttributeType"`
			Targets       []string `json:"Targets"`
		} `json:"Attributes"`
	}
	if err := json.Unmarshal(res.body, &def); err != nil {
		return nil, protocol.Errorf(protocol.CodeBackend, "dataverse: decode EntityDefinitions of %q: %v", p.EntityName, err)
	}
	if def.LogicalName == "" {
		def.LogicalName = p.EntityName
	}
	if checkName("EntitySetName", def.EntitySetName) == nil && checkName("PrimaryIdAttribute", def.PrimaryIDAttribute) == nil {
		b.meta.put(def.entityDef)
	}
	want := map[string]bool{}
	for _, n := range p.Attributes {
		want[n] = true
	}
	out := struct {
		entityDef
		Attributes []attributeMeta `json:"Attributes"`
	}{entityDef: def.entityDef, Attributes: []attributeMeta{}}
	for _, at := range def.Attributes {
		if len(want) == 0 || want[at.LogicalName] {
			out.Attributes = append(out.Attributes, attributeMeta{LogicalName: at.LogicalName, EntityLogicalName: def.LogicalName,
				AttributeType: at.AttributeType, Targets: at.Targets})
		}
	}
	return json.Marshal(out)
}
