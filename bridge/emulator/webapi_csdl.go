package emulator

import (
	"encoding/xml"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// GET $metadata: a CSDL (OData 4.0 EDMX) document generated from the
// emulator's metadata: one EntityType per entity (key, columns with their
// Edm types, _x_value lookup columns, one NavigationProperty per lookup
// target under Dataverse's name (navProperty), one per one-to-many
// relationship the emulator serves, Collection(…)), an EntitySet each,
// and the schema's custom actions and functions with WhoAmI. It describes
// what the emulator serves, not a whole Dataverse org.

// edmTypeOf is the Edm type of a column by its AttributeType.
func edmTypeOf(ent *entity, col string) string {
	if strings.HasPrefix(col, "_") && strings.HasSuffix(col, "_value") {
		return "Edm.Guid"
	}
	switch ent.attributeType(col) {
	case "Uniqueidentifier":
		return "Edm.Guid"
	case "Integer", "Picklist", "State", "Status":
		return "Edm.Int32"
	case "BigInt":
		return "Edm.Int64"
	case "Money", "Decimal":
		return "Edm.Decimal"
	case "Double":
		return "Edm.Double"
	case "Boolean":
		return "Edm.Boolean"
	case "DateTime":
		return "Edm.DateTimeOffset"
	}
	return "Edm.String"
}

type csdlProp struct {
	Name string `xml:"Name,attr"`
	Type string `xml:"Type,attr"`
}

type csdlNav struct {
	Name string `xml:"Name,attr"`
	Type string `xml:"Type,attr"`
}

type csdlEntityType struct {
	Name     string     `xml:"Name,attr"`
	BaseType string     `xml:"BaseType,attr,omitempty"`
	Abstract string     `xml:"Abstract,attr,omitempty"`
	Key      *csdlKey   `xml:"Key,omitempty"`
	Props    []csdlProp `xml:"Property"`
	Navs     []csdlNav  `xml:"NavigationProperty"`
}

type csdlKey struct {
	Ref struct {
		Name string `xml:"Name,attr"`
	} `xml:"PropertyRef"`
}

type csdlOperation struct {
	XMLName    xml.Name
	Name       string `xml:"Name,attr"`
	ReturnType *struct {
		Type string `xml:"Type,attr"`
	} `xml:"ReturnType,omitempty"`
}

type csdlEntitySet struct {
	Name       string `xml:"Name,attr"`
	EntityType string `xml:"EntityType,attr"`
}

type csdlImport struct {
	XMLName  xml.Name
	Name     string `xml:"Name,attr"`
	Action   string `xml:"Action,attr,omitempty"`
	Function string `xml:"Function,attr,omitempty"`
}

type csdlDoc struct {
	XMLName  xml.Name `xml:"edmx:Edmx"`
	Version  string   `xml:"Version,attr"`
	XMLNS    string   `xml:"xmlns:edmx,attr"`
	Services struct {
		Schema struct {
			Namespace string            `xml:"Namespace,attr"`
			Alias     string            `xml:"Alias,attr"`
			XMLNS     string            `xml:"xmlns,attr"`
			Types     []csdlEntityType  `xml:"EntityType"`
			Ops       []csdlOperation   `xml:",any"`
			Container csdlContainerElem `xml:"EntityContainer"`
		} `xml:"Schema"`
	} `xml:"edmx:DataServices"`
}

type csdlContainerElem struct {
	Name    string          `xml:"Name,attr"`
	Sets    []csdlEntitySet `xml:"EntitySet"`
	Imports []csdlImport    `xml:",any"`
}

// webMetadata answers GET $metadata.
func (e *Emulator) webMetadata(wr *webReq) {
	if !wr.allow(http.MethodGet) {
		return
	}
	var d csdlDoc
	d.Version, d.XMLNS = "4.0", "http://docs.oasis-open.org/odata/ns/edmx"
	s := &d.Services.Schema
	s.Namespace, s.Alias, s.XMLNS = "Microsoft.Dynamics.CRM", "mscrm", "http://docs.oasis-open.org/odata/ns/edm"
	s.Types = append(s.Types, csdlEntityType{Name: "crmbaseentity", Abstract: "true"})
	s.Container.Name = "System"
	for _, name := range e.cat.names {
		ent := e.cat.byLogical[name]
		t := csdlEntityType{Name: name, BaseType: "mscrm.crmbaseentity", Key: &csdlKey{}}
		t.Key.Ref.Name = ent.PrimaryIDAttribute
		cols := make([]string, 0, len(ent.columns))
		for c := range ent.columns {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		for _, c := range cols {
			t.Props = append(t.Props, csdlProp{Name: c, Type: edmTypeOf(ent, c)})
		}
		for _, l := range ent.lookupNames() {
			targets := ent.Lookups[l]
			if len(targets) == 1 {
				t.Navs = append(t.Navs, csdlNav{Name: l, Type: "mscrm." + targets[0]})
				continue
			}
			for _, tg := range targets {
				t.Navs = append(t.Navs, csdlNav{Name: ent.navProperty(l, tg), Type: "mscrm." + tg})
			}
		}
		for _, rel := range slices.Sorted(maps.Keys(oneToMany[name])) { // collection-valued: the ones $expand serves
			if _, _, ok := e.manyRef(ent, rel); ok {
				t.Navs = append(t.Navs, csdlNav{Name: rel, Type: "Collection(mscrm." + oneToMany[name][rel].entity + ")"})
			}
		}
		s.Types = append(s.Types, t)
		s.Container.Sets = append(s.Container.Sets, csdlEntitySet{Name: ent.EntitySetName, EntityType: "Microsoft.Dynamics.CRM." + name})
	}
	ops := []Operation{{Name: "WhoAmI", Kind: KindFunction}}
	names := make([]string, 0, len(e.operations))
	for n := range e.operations {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ops = append(ops, e.operations[n])
	}
	for _, op := range ops {
		o := csdlOperation{Name: op.Name}
		imp := csdlImport{Name: op.Name}
		if op.Kind == KindFunction {
			o.XMLName.Local = "Function"
			o.ReturnType = &struct {
				Type string `xml:"Type,attr"`
			}{Type: "Edm.Untyped"}
			imp.XMLName.Local, imp.Function = "FunctionImport", "Microsoft.Dynamics.CRM."+op.Name
		} else {
			o.XMLName.Local = "Action"
			imp.XMLName.Local, imp.Action = "ActionImport", "Microsoft.Dynamics.CRM."+op.Name
		}
		s.Ops = append(s.Ops, o)
		s.Container.Imports = append(s.Container.Imports, imp)
	}
	b, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		wr.fail(errSyntax("cannot encode $metadata: %v", err))
		return
	}
	wr.w.Header().Set("Content-Type", "application/xml")
	wr.w.WriteHeader(http.StatusOK)
	_, _ = wr.w.Write([]byte(xml.Header))
	_, _ = wr.w.Write(b)
}
