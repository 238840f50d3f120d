package emulator

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/cifbridge/cifbridge/bridge/primarykey"
)

// EntityMeta is one row of the metadata table: how a logical name maps to
// its entity set and primary key, which columns it has, and which lookups
// (single-valued navigation properties) point where. The same shape is read
// from the schema file's "entities" array.
type EntityMeta struct {
	LogicalName          string              `json:"logicalName"`
	EntitySetName        string              `json:"entitySetName"`
	PrimaryIDAttribute   string              `json:"primaryIdAttribute"`
	PrimaryNameAttribute string              `json:"primaryNameAttribute"`
	Attributes           []string            `json:"attributes"`
	Lookups              map[string][]string `json:"lookups,omitempty"` // navigation property → target logical names
}

// System columns every entity has; the emulator maintains them.
const (
	colCreatedOn     = "createdon"
	colModifiedOn    = "modifiedon"
	colVersionNumber = "versionnumber"
	colStateCode     = "statecode"  // 0 on create unless given
	colStatusCode    = "statuscode" // 1 on create unless given
)

// systemUserCols are the lookups to the user every record has: the
// emulator's own user (WhoAmI) owns, created and last modified it.
var systemUserCols = []string{"_ownerid_value", "_createdby_value", "_modifiedby_value"}

// builtinEntities is the default metadata table (entity sets and primary keys as Dataverse's metadata gives them).
// Primary keys come from the one built-in table, primarykey.Of.
func builtinEntities() []EntityMeta {
	common := []string{"description", "statecode", "statuscode"}
	ms := []EntityMeta{
		{
			LogicalName: "account", EntitySetName: "accounts", PrimaryNameAttribute: "name",
			Attributes: append([]string{"name", "accountnumber", "telephone1", "telephone2", "emailaddress1", "websiteurl",
				"address1_city", "address1_country", "revenue", "numberofemployees"}, common...),
			Lookups: map[string][]string{"primarycontactid": {"contact"}, "parentaccountid": {"account"}},
		},
		{
			LogicalName: "contact", EntitySetName: "contacts", PrimaryNameAttribute: "fullname",
			Attributes: append([]string{"fullname", "firstname", "lastname", "middlename", "emailaddress1", "emailaddress2",
				"telephone1", "telephone2", "mobilephone", "jobtitle", "address1_city", "address1_country", "birthdate"}, common...),
			Lookups: map[string][]string{"parentcustomerid": {"account", "contact"}},
		},
		{
			LogicalName: "incident", EntitySetName: "incidents", PrimaryNameAttribute: "title",
			Attributes: append([]string{"title", "ticketnumber", "prioritycode", "caseorigincode"}, common...),
			Lookups:    map[string][]string{"customerid": {"account", "contact"}, "primarycontactid": {"contact"}},
		},
		{
			LogicalName: "lead", EntitySetName: "leads", PrimaryNameAttribute: "fullname",
			Attributes: append([]string{"fullname", "firstname", "lastname", "subject", "companyname", "emailaddress1",
				"telephone1", "mobilephone"}, common...),
			Lookups: map[string][]string{"parentcontactid": {"contact"}, "parentaccountid": {"account"}},
		},
		{
			LogicalName: "phonecall", EntitySetName: "phonecalls", PrimaryNameAttribute: "subject",
			Attributes: append([]string{"subject", "phonenumber", "directioncode", "scheduledstart", "scheduledend",
				"actualdurationminutes"}, common...),
			Lookups: map[string][]string{"regardingobjectid": {"contact", "account", "incident", "lead"}},
		},
		{
			LogicalName: "task", EntitySetName: "tasks", PrimaryNameAttribute: "subject",
			Attributes: append([]string{"subject", "scheduledend", "prioritycode", "percentcomplete"}, common...),
			Lookups:    map[string][]string{"regardingobjectid": {"contact", "account", "incident", "lead"}},
		},
	}
	for i := range ms {
		ms[i].PrimaryIDAttribute = primarykey.Of(ms[i].LogicalName)
	}
	return ms
}

// entity is the compiled form of EntityMeta used at run time.
type entity struct {
	EntityMeta
	columns      map[string]bool          // every selectable/filterable column, including _x_value and system columns
	writable     map[string]bool          // columns a create/update may set
	lookupCols   map[string]string        // lookup → its _x_value column
	computedName bool                     // primary name is fullname computed from firstname + lastname
	declared     map[string]AttributeSpec // types the schema file declares (types.go), set by New
	writeTypes   colIndex                 // writable column → its type (packWriteTypes), set by New
	// defaults are the columns a create adds when the write left them out,
	// packed once (set by New, see packDefaults): statecode 0, statuscode
	// (defaultStatus), then the emulator's user in each of systemUserCols.
	defaults []column
	// createTail is what every create ends with (applyCreate); nil when
	// its names are not distinct, and a create takes applyWrite's general
	// merge.
	createTail *createTail
	// resultPrefix opens CIF's create result for this entity,
	// `{"entityType":"<logical name>","id":` (createResult).
	resultPrefix []byte
	// lookupOrder is the lookups' names, sorted once (compileEntity).
	lookupOrder []string
	// navs answers resolveLookup for the polymorphic navigation names
	// (navProperty) without building and cutting strings per call (a bind
	// in every third create of a load run); set by compileEntity.
	navs map[string]navLookup
}

// navLookup is what resolveLookup answers for one navigation name.
type navLookup struct{ name, lookup, target string }

// navName returns nav as a string: the entity's copy when it is one of
// navs (no allocation), else a new one.
func (e *entity) navName(nav []byte) string {
	if n, ok := e.navs[string(nav)]; ok {
		return n.name
	}
	return string(nav)
}

// packDefaults sets e.defaults for the emulator's user userID, and
// e.resultPrefix.
func (e *entity) packDefaults(userID string) {
	var r row
	r = appendText(r, colStateCode, kindNumber, "0")
	r = appendText(r, colStatusCode, kindNumber, defaultStatus(e.LogicalName))
	for _, c := range systemUserCols {
		r = appendColumn(r, c, userID)
	}
	e.defaults = r.columns(nil)
	e.createTail = newCreateTail(e)
	e.resultPrefix, _ = jsontext.AppendQuote([]byte(`{"entityType":`), e.LogicalName) // never fails: a logical name is ASCII (checkName)
	e.resultPrefix = append(e.resultPrefix, `,"id":`...)
}

func compileEntity(m EntityMeta) *entity {
	m.Attributes = slices.Clone(m.Attributes)
	for _, a := range []string{m.PrimaryIDAttribute, m.PrimaryNameAttribute} {
		if a != "" && !slices.Contains(m.Attributes, a) {
			m.Attributes = append(m.Attributes, a)
		}
	}
	sort.Strings(m.Attributes)
	e := &entity{EntityMeta: m, columns: map[string]bool{}, writable: map[string]bool{}, lookupCols: map[string]string{}}
	for _, a := range m.Attributes {
		e.columns[a] = true
		e.writable[a] = true
	}
	e.columns[colCreatedOn] = true
	e.columns[colModifiedOn] = true
	e.columns[colVersionNumber] = true
	for _, c := range systemUserCols {
		e.columns[c] = true
	}
	for _, c := range []string{colStateCode, colStatusCode} { // writable, like the built-ins' own
		e.columns[c] = true
		e.writable[c] = true
	}
	for l := range m.Lookups {
		e.lookupCols[l] = lookupValueCol(l)
		e.columns[e.lookupCols[l]] = true
	}
	e.computedName = m.PrimaryNameAttribute == "fullname" && e.columns["firstname"] && e.columns["lastname"]
	e.lookupOrder = slices.Sorted(maps.Keys(m.Lookups))
	e.navs = map[string]navLookup{}
	for _, l := range e.lookupOrder {
		if len(m.Lookups[l]) <= 1 {
			continue // named by itself
		}
		for _, t := range m.Lookups[l] {
			n := e.navProperty(l, t)
			if _, isLookup := m.Lookups[n]; isLookup {
				continue // resolveLookup answers a lookup's own name first
			}
			if _, taken := e.navs[n]; !taken {
				e.navs[n] = navLookup{n, l, t}
			}
		}
	}
	return e
}

// navProperty is the name Dataverse gives the single-valued navigation
// property of lookup that points to target: the lookup's own name when it
// has one target ("primarycontactid"); for a polymorphic lookup one per
// target, "<lookup>_<target>" ("parentcustomerid_account"), and on an
// activity (primary key activityid) "<lookup>_<target>_<activity>"
// ("regardingobjectid_contact_phonecall"). There is no navigation property
// named after a polymorphic lookup itself: Dataverse answers a bind or an
// $expand through "parentcustomerid" with 400.
func (e *entity) navProperty(lookup, target string) string {
	if len(e.Lookups[lookup]) <= 1 {
		return lookup
	}
	n := lookup + "_" + target
	if e.PrimaryIDAttribute == "activityid" {
		n += "_" + e.LogicalName
	}
	return n
}

// lookupValueCol is the column a lookup's GUID is read from: _x_value.
func lookupValueCol(lookup string) string { return "_" + lookup + "_value" }

// lookupNames returns the lookups in a stable order (sorted once, by
// compileEntity). The slice is the entity's: a caller appending to it gets
// a copy.
func (e *entity) lookupNames() []string {
	return e.lookupOrder[:len(e.lookupOrder):len(e.lookupOrder)]
}

// catalog is the immutable metadata table of one emulator.
type catalog struct {
	byLogical map[string]*entity
	bySet     map[string]*entity
	names     []string // logical names, sorted

	filterCtx filterContext // the clock and user of the query functions (set by New)
}

func newCatalog(ents []EntityMeta) (*catalog, error) {
	c := &catalog{byLogical: map[string]*entity{}, bySet: map[string]*entity{}}
	for _, m := range ents {
		c.byLogical[m.LogicalName] = compileEntity(m)
	}
	for name, e := range c.byLogical {
		if other, dup := c.bySet[e.EntitySetName]; dup {
			return nil, fmt.Errorf("entity set %q is used by both %q and %q", e.EntitySetName, other.LogicalName, name)
		}
		c.bySet[e.EntitySetName] = e
		c.names = append(c.names, name)
	}
	sort.Strings(c.names)
	for _, name := range c.names {
		e := c.byLogical[name]
		for col := range e.columns {
			if len(col) > maxColumnName {
				return nil, fmt.Errorf("entity %q: column name %q is longer than %d bytes", name, col, maxColumnName)
			}
		}
		for _, l := range e.lookupNames() {
			for _, t := range e.Lookups[l] {
				if c.byLogical[t] == nil {
					return nil, fmt.Errorf("entity %q lookup %q targets unknown entity %q", name, l, t)
				}
			}
		}
	}
	return c, nil
}

// entity resolves a logical name (case-sensitive, as Dataverse is).
func (c *catalog) entity(logical string) (*entity, *dvError) {
	if e := c.byLogical[logical]; e != nil {
		return e, nil
	}
	return nil, errSegment(logical)
}

// resolveLookup finds the lookup a single-valued navigation property
// names (navProperty): a lookup with one target by its own name
// ("primarycontactid"), a polymorphic one by "parentcustomerid_account" or,
// on an activity, "regardingobjectid_contact_phonecall". target is set when
// the name fixes the target entity. A polymorphic lookup's own name, or a
// target or activity suffix Dataverse does not use, names nothing.
func (e *entity) resolveLookup(nav string) (lookup, target string, ok bool) {
	if targets, ok := e.Lookups[nav]; ok && len(targets) <= 1 {
		return nav, "", true
	}
	if n, ok := e.navs[nav]; ok {
		return n.lookup, n.target, true
	}
	return "", "", false
}

// knownTypes are the Dataverse AttributeType values of the built-in
// columns that are not strings. The schema file declares no types, so any
// other column is reported as a String.
var knownTypes = map[string]string{
	"revenue": "Money", "numberofemployees": "Integer", "birthdate": "DateTime",
	"scheduledstart": "DateTime", "scheduledend": "DateTime", "actualdurationminutes": "Integer",
	"percentcomplete": "Integer", "prioritycode": "Picklist", "caseorigincode": "Picklist",
	"directioncode": "Boolean", "description": "Memo", "statecode": "State", "statuscode": "Status",
	colCreatedOn: "DateTime", colModifiedOn: "DateTime", colVersionNumber: "BigInt",
}

// attributeType is the AttributeType Dataverse reports for a column or
// lookup of e: Uniqueidentifier for the primary key, Lookup (Customer for
// an account-or-contact lookup) for a lookup, else from knownTypes.
func (e *entity) attributeType(name string) string {
	if name == e.PrimaryIDAttribute {
		return "Uniqueidentifier"
	}
	if targets, ok := e.Lookups[name]; ok {
		if len(targets) == 2 && slices.Contains(targets, "account") && slices.Contains(targets, "contact") {
			return "Customer"
		}
		return "Lookup"
	}
	if spec, ok := e.declared[name]; ok {
		return spec.Type
	}
	if t := knownTypes[name]; t != "" {
		return t
	}
	return "String"
}

// metadataTypes are the OData types of AttributeMetadata by AttributeType.
var metadataTypes = map[string]string{
	"Uniqueidentifier": "UniqueIdentifierAttributeMetadata", "Lookup": "LookupAttributeMetadata",
	"Customer": "LookupAttributeMetadata", "Money": "MoneyAttributeMetadata", "Integer": "IntegerAttributeMetadata",
	"DateTime": "DateTimeAttributeMetadata", "Picklist": "PicklistAttributeMetadata", "Boolean": "BooleanAttributeMetadata",
	"Memo": "MemoAttributeMetadata", "BigInt": "BigIntAttributeMetadata", "State": "StateAttributeMetadata", "Status": "StatusAttributeMetadata",
	"String": "StringAttributeMetadata",
}
