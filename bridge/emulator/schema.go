package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cifbridge/cifbridge/internal/httpjson"
)

// schemaFile is the JSON schema file (see doc.go and testdata/schema-example.json).
type schemaFile struct {
	Entities       []EntityMeta    `json:"entities"`
	DuplicateRules []DuplicateRule `json:"duplicateRules"`
	Operations     []Operation     `json:"operations"`
	Environment    map[string]any  `json:"environment"`
	// AlternateKeys are each entity's alternate keys (lists of columns),
	// usable as accounts(accountnumber='A-1') (altkeys.go).
	AlternateKeys map[string][][]string `json:"alternateKeys,omitempty"`
	// AttributeTypes declares the types of columns (types.go), by entity
	// and column: {"new_call": {"new_duration": {"type": "Integer"}}}.
	AttributeTypes map[string]map[string]AttributeSpec `json:"attributeTypes,omitempty"`
}

// DuplicateRule is a duplicate-detection rule: a create or update whose
// values equal an existing record's on every attribute (case-insensitive,
// all non-empty) is refused with 500 / 0x80040333. On the Web API face it
// fires only with "MSCRM.SuppressDuplicateDetection: false"; on the CIF
// path only when OnCIF is true.
type DuplicateRule struct {
	Entity     string   `json:"entity"`
	Attributes []string `json:"attributes"`
	OnCIF      bool     `json:"onCIF"`
}

// Operation is a custom action or function declared in the schema. Response
// is what a call answers with (the parsed body); absent means no content.
type Operation struct {
	Name     string          `json:"name"`
	Kind     string          `json:"kind"` // "action" or "function"
	Response json.RawMessage `json:"response,omitempty"`
}

// Operation kinds.
const (
	KindAction   = "action"
	KindFunction = "function"
)

// parseSchema merges the schema file over the built-in metadata. An entity
// whose logicalName is built in overrides the non-empty fields given and
// adds its attributes and lookups.
func parseSchema(data []byte) (ents []EntityMeta, s schemaFile, err error) {
	byName := map[string]*EntityMeta{}
	var order []string
	for _, m := range builtinEntities() {
		m := m
		byName[m.LogicalName] = &m
		order = append(order, m.LogicalName)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := httpjson.DecodeStrict(data, &s); err != nil {
			return nil, s, fmt.Errorf("schema: %w", err)
		}
	}
	for i, m := range s.Entities {
		where := fmt.Sprintf("schema: entities[%d]", i)
		if m.LogicalName == "" {
			return nil, s, fmt.Errorf("%s.logicalName is required", where)
		}
		if err := checkName(m.LogicalName); err != nil {
			return nil, s, fmt.Errorf("%s.logicalName: %w", where, err)
		}
		cur, ok := byName[m.LogicalName]
		if !ok {
			for field, v := range map[string]string{"entitySetName": m.EntitySetName, "primaryIdAttribute": m.PrimaryIDAttribute} {
				if v == "" {
					return nil, s, fmt.Errorf("%s.%s is required for the new entity %q", where, field, m.LogicalName)
				}
			}
			cur = &EntityMeta{LogicalName: m.LogicalName, Lookups: map[string][]string{}}
			byName[m.LogicalName] = cur
			order = append(order, m.LogicalName)
		}
		if m.EntitySetName != "" {
			cur.EntitySetName = m.EntitySetName
		}
		if m.PrimaryIDAttribute != "" {
			cur.PrimaryIDAttribute = m.PrimaryIDAttribute
		}
		if m.PrimaryNameAttribute != "" {
			cur.PrimaryNameAttribute = m.PrimaryNameAttribute
		}
		for j, a := range m.Attributes {
			if err := checkName(a); err != nil {
				return nil, s, fmt.Errorf("%s.attributes[%d]: %w", where, j, err)
			}
			if !slices.Contains(cur.Attributes, a) {
				cur.Attributes = append(cur.Attributes, a)
			}
		}
		if cur.Lookups == nil {
			cur.Lookups = map[string][]string{}
		} else {
			cur.Lookups = maps.Clone(cur.Lookups)
		}
		for l, targets := range m.Lookups {
			if len(targets) == 0 {
				return nil, s, fmt.Errorf("%s.lookups.%s: list at least one target entity", where, l)
			}
			cur.Lookups[l] = slices.Clone(targets)
		}
	}
	for _, n := range order {
		ents = append(ents, *byName[n])
	}
	return ents, s, nil
}

func checkName(n string) error {
	if n == "" {
		return fmt.Errorf("empty name")
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%q: names use only letters, digits and '_'", n)
		}
	}
	return nil
}

func validateRules(c *catalog, rules []DuplicateRule) error {
	for i, r := range rules {
		where := fmt.Sprintf("schema: duplicateRules[%d]", i)
		if r.Entity == "" {
			return fmt.Errorf("%s.entity is required", where)
		}
		ent := c.byLogical[r.Entity]
		if ent == nil {
			return fmt.Errorf("%s.entity: unknown entity %q", where, r.Entity)
		}
		if len(r.Attributes) == 0 {
			return fmt.Errorf("%s.attributes: list at least one attribute", where)
		}
		for j, a := range r.Attributes {
			if !ent.columns[a] {
				return fmt.Errorf("%s.attributes[%d]: %q is not an attribute of %q", where, j, a, r.Entity)
			}
		}
	}
	return nil
}

func validateOperations(c *catalog, ops []Operation) (map[string]Operation, error) {
	out := map[string]Operation{}
	for i, op := range ops {
		where := fmt.Sprintf("schema: operations[%d]", i)
		if op.Name == "" {
			return nil, fmt.Errorf("%s.name is required", where)
		}
		if err := checkName(op.Name); err != nil {
			return nil, fmt.Errorf("%s.name: %w", where, err)
		}
		if op.Kind != KindAction && op.Kind != KindFunction {
			return nil, fmt.Errorf("%s.kind must be %q or %q, got %q", where, KindAction, KindFunction, op.Kind)
		}
		if _, dup := out[op.Name]; dup || strings.EqualFold(op.Name, "WhoAmI") {
			return nil, fmt.Errorf("%s.name %q is declared twice or is built in", where, op.Name)
		}
		if c.bySet[op.Name] != nil {
			return nil, fmt.Errorf("%s.name %q clashes with an entity set name", where, op.Name)
		}
		if len(op.Response) > 0 && !json.Valid(op.Response) {
			return nil, fmt.Errorf("%s.response is not valid JSON", where)
		}
		out[op.Name] = op
	}
	return out, nil
}
