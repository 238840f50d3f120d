package emulator

import (
	"encoding/json"
	"strings"
	"testing"
)

func testEntity(t testing.TB) (*catalog, *entity) {
	t.Helper()
	cat, err := newCatalog(builtinEntities())
	if err != nil {
		t.Fatal(err)
	}
	return cat, cat.byLogical["contact"]
}

func testRecord() *record {
	return &record{fields: patchOf(
		col{"contactid", "11111111-1111-4111-8111-111111111111"}, col{"firstname", "Ada"}, col{"lastname", "O'Brien"},
		col{"mobilephone", "+358401234567"}, col{"address1_city", nil}, col{"statecode", json.Number("0")}, col{"jobtitle", "Countess"},
	)}
}

func TestParseFilter(t *testing.T) {
	_, ent := testEntity(t)
	tests := []struct {
		name    string
		filter  string
		match   bool
		wantErr string // substring; "" = must parse
	}{
		{name: "eq", filter: "firstname eq 'Ada'", match: true},
		{name: "eq case-insensitive", filter: "firstname eq 'ADA'", match: true},
		{name: "ne", filter: "firstname ne 'Ada'", match: false},
		{name: "escaped quote", filter: "lastname eq 'O''Brien'", match: true},
		{name: "number", filter: "statecode eq 0", match: true},
		{name: "number gt", filter: "statecode gt -1.5", match: true},
		{name: "number vs string column", filter: "firstname eq 1", wantErr: "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."},
		{name: "quoted guid", filter: "contactid eq '11111111-1111-4111-8111-111111111111'", wantErr: "operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'"},
		{name: "string vs number column", filter: "statecode ne '0'", wantErr: "operand types 'Edm.Int32' and 'Edm.String' for operator kind 'NotEqual'"},
		{name: "decimal vs integer column", filter: "statecode lt 0.5", match: true},
		{name: "null", filter: "address1_city eq null", match: true},
		{name: "missing column is null", filter: "emailaddress1 eq null", match: true},
		{name: "ne null", filter: "firstname ne null", match: true},
		{name: "guid", filter: "contactid eq 11111111-1111-4111-8111-111111111111", match: true},
		{name: "guid upper", filter: "contactid eq 11111111-1111-4111-8111-11111111111A", match: false},
		{name: "contains", filter: "contains(mobilephone,'4012')", match: true},
		{name: "startswith", filter: "startswith(mobilephone, '+358')", match: true},
		{name: "endswith", filter: "endswith(jobtitle,'TESS')", match: true},
		{name: "and or precedence", filter: "firstname eq 'x' and lastname eq 'y' or jobtitle eq 'Countess'", match: true},
		{name: "parens", filter: "firstname eq 'x' and (lastname eq 'y' or jobtitle eq 'Countess')", match: false},
		{name: "not", filter: "not (firstname eq 'x')", match: true},
		{name: "bool literal against string", filter: "firstname eq true", wantErr: "operand types 'Edm.String' and 'Edm.Boolean' for operator kind 'Equal'"},
		{name: "ge le strings", filter: "firstname ge 'A' and firstname le 'B'", match: true},
		{name: "empty", filter: "", wantErr: "expected an expression"},
		{name: "missing value", filter: "firstname eq", wantErr: "expected a value"},
		{name: "missing operator", filter: "firstname", wantErr: "expected an operator"},
		{name: "bad operator", filter: "firstname is 'Ada'", wantErr: "found 'is'"},
		{name: "unterminated", filter: "firstname eq 'Ada", wantErr: "unterminated string"},
		{name: "unbalanced", filter: "(firstname eq 'Ada'", wantErr: "expected ')'"},
		{name: "trailing", filter: "firstname eq 'Ada' 'x'", wantErr: "unexpected"},
		{name: "unknown column", filter: "shoesize eq 1", wantErr: "Could not find a property named 'shoesize'"},
		{name: "unknown function", filter: "substringof('a',firstname)", wantErr: "unknown function 'substringof'"},
		{name: "function needs string", filter: "contains(firstname,1)", wantErr: "needs a string literal"},
		{name: "too deep", filter: strings.Repeat("(", 100) + "firstname eq 'a'" + strings.Repeat(")", 100), wantErr: "nested too deeply"},
		{name: "bare word value", filter: "firstname eq Ada", wantErr: "expected a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, derr := parseFilter(ent, tt.filter)
			if tt.wantErr != "" {
				if derr == nil || !strings.Contains(derr.Message, tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", derr, tt.wantErr)
				}
				if derr.Status != 400 {
					t.Fatalf("status = %d", derr.Status)
				}
				return
			}
			if derr != nil {
				t.Fatalf("parse: %v", derr)
			}
			if got := n.match(testRecord()); got != tt.match {
				t.Fatalf("match = %v, want %v (parsed as %s)", got, tt.match, n)
			}
			// The printed form parses to the same tree.
			n2, derr := parseFilter(ent, n.String())
			if derr != nil || n2.String() != n.String() {
				t.Fatalf("round trip %q → %q (%v)", n.String(), n2, derr)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	cat, ent := testEntity(t)
	tests := []struct {
		name       string
		qs         string
		wantFilter string // the parsed $filter, printed; "" = not checked
		check      func(t *testing.T, q *query)
		wantErr    string
	}{
		{name: "empty", qs: "", check: func(t *testing.T, q *query) {
			if q.selects != nil || q.filter != nil || q.top != 0 || q.expands != nil {
				t.Fatalf("%+v", q)
			}
		}},
		{name: "all options", qs: "?$select=firstname,lastname&$filter=firstname eq 'a&b'&$top=3&$expand=parentcustomerid_account($select=name)&$orderby=lastname desc,firstname", wantFilter: "firstname eq 'a&b'", check: func(t *testing.T, q *query) {
			if len(q.selects) != 2 || q.top != 3 || len(q.expands) != 1 || q.expands[0].selects[0] != "name" || len(q.orderby) != 2 || !q.orderby[0].desc {
				t.Fatalf("%+v", q)
			}
		}},
		{name: "top capped", qs: "$top=999999", check: func(t *testing.T, q *query) {
			if q.top != maxTop {
				t.Fatalf("top = %d", q.top)
			}
		}},
		{name: "custom parameter ignored", qs: "tag=x&$select=firstname", check: func(t *testing.T, q *query) {}},
		{name: "count true", qs: "$count=true", check: func(t *testing.T, q *query) {
			if !q.count {
				t.Fatal("count not set")
			}
		}},
		{name: "plus kept in a CIF query", qs: "$filter=firstname eq 'a+b'", wantFilter: "firstname eq 'a+b'"},
		{name: "plus is a space on the Web API", qs: webQuery("$filter=firstname%20eq%20'a+b'"), wantFilter: "firstname eq 'a b'"},
		{name: "encoded plus", qs: "$filter=mobilephone eq '%2B358'", wantFilter: "mobilephone eq '+358'"},
		{name: "alias defined, not used", qs: "@p1='x'&$select=firstname", check: func(t *testing.T, q *query) {
			if len(q.selects) != 1 || q.filter != nil {
				t.Fatalf("%+v", q)
			}
		}},
		{name: "aliases in $filter", qs: "$filter=firstname eq @p1 and lastname ne @last&@p1='O''Brien @p2'&@last=null", wantFilter: "(firstname eq 'O''Brien @p2' and lastname ne null)"},
		{name: "alias names a column", qs: "$filter=contains(@col,'a')&$orderby=@col desc&@col=lastname", wantFilter: "contains(lastname,'a')", check: func(t *testing.T, q *query) {
			if len(q.orderby) != 1 || q.orderby[0].col != "lastname" || !q.orderby[0].desc {
				t.Fatalf("%+v", q.orderby)
			}
		}},
		{name: "alias inside a literal is text", qs: "$filter=firstname eq '@p1'&@p1='x'", wantFilter: "firstname eq '@p1'"},
		{name: "undefined alias is null", qs: "$filter=firstname eq @nope", wantFilter: "firstname eq null"},
		{name: "alias in $select is no column", qs: "$select=@p1&@p1=firstname", wantErr: "Could not find a property named '@p1'"},
		{name: "fetchXml refused", qs: "fetchXml=%3Cfetch%3E%3C/fetch%3E", wantErr: "does not implement FetchXML"},
		{name: "savedQuery refused", qs: "savedQuery=00000000-0000-0000-0000-000000000001", wantErr: "saved and user queries"},
		{name: "count bad", qs: "$count=yes", wantErr: "Valid values are 'true' and 'false'"},
		{name: "skip refused", qs: "$skip=2", wantErr: "does not implement the query option '$skip'"},
		{name: "unknown option", qs: "$bogus=1", wantErr: "The query parameter '$bogus' is not supported."},
		{name: "polymorphic expand", qs: "$expand=parentcustomerid_account($select=name)", check: func(t *testing.T, q *query) {
			if q.expands[0].lookup != "parentcustomerid" || q.expands[0].target != "account" {
				t.Fatalf("%+v", q.expands)
			}
		}},
		{name: "duplicate option", qs: "$top=1&$top=2", wantErr: "more than once"},
		{name: "bad top", qs: "$top=x", wantErr: "$top"},
		{name: "empty select", qs: "$select=firstname,,lastname", wantErr: "empty column"},
		{name: "expand bad select", qs: "$expand=parentcustomerid_account($select=nope)", wantErr: "Could not find a property named 'nope'"},
		{name: "expand other option", qs: "$expand=parentcustomerid_account($filter=x)", wantErr: "only $select"},
		{name: "expand unclosed", qs: "$expand=parentcustomerid_account($select=name", wantErr: "closing"},
		{name: "orderby direction", qs: "$orderby=lastname up", wantErr: "asc"},
		{name: "apply transformation refused", qs: "$apply=compute(x as y)", wantErr: "does not implement the $apply transformation 'compute'"},
		{name: "apply with select", qs: "$apply=groupby((firstname))&$select=lastname", wantErr: "$apply takes no $select"},
		{name: "apply order by unknown alias", qs: "$apply=groupby((firstname))&$orderby=n", wantErr: "names an alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, derr := parseQuery(cat, ent, tt.qs)
			if tt.wantErr != "" {
				if derr == nil || !strings.Contains(derr.Message, tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", derr, tt.wantErr)
				}
				return
			}
			if derr != nil {
				t.Fatal(derr)
			}
			if tt.wantFilter != "" && q.filter.String() != tt.wantFilter {
				t.Fatalf("filter = %s, want %s", q.filter, tt.wantFilter)
			}
			if tt.check != nil {
				tt.check(t, q)
			}
		})
	}
}

// refused reports whether a parse refused its fuzzed input, and fails t
// unless the refusal is a 400 with a message: the one rule the fuzz
// targets hold every refusal to.
func refused(t *testing.T, derr *dvError) bool {
	t.Helper()
	if derr == nil {
		return false
	}
	if derr.Status != 400 || derr.Message == "" {
		t.Fatalf("bad error %+v", derr)
	}
	return true
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"firstname eq 'Ada'", "contains(mobilephone,'+358') or startswith(lastname,'O''B')",
		"not (statecode ge 1 and statecode le 2)", "contactid eq 11111111-1111-4111-8111-111111111111",
		"address1_city eq null", "((firstname ne 'x'))", "firstname eq", "'", "(((", "statecode gt -1e3",
		"createdon gt 2026-01-31T08:00:00Z", "createdon le 2026-01-31", "Microsoft.Dynamics.CRM.Today(PropertyName='createdon')",
		"Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)",
		`Microsoft.Dynamics.CRM.In(PropertyName='firstname',PropertyValues=["Ada",'Alan'])`,
		`not Microsoft.Dynamics.CRM.Between(PropertyName='statecode',PropertyValues=["0","1"]) or firstname eq 'x'`,
		"Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')", "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2026-01-31')",
	} {
		f.Add(s)
	}
	_, ent := testEntity(f)
	f.Fuzz(func(t *testing.T, src string) {
		n, derr := parseFilter(ent, src)
		if refused(t, derr) {
			return
		}
		n.match(testRecord())
		n2, derr := parseFilter(ent, n.String())
		if derr != nil || n2.String() != n.String() {
			t.Fatalf("printed form %q does not re-parse the same: %v", n.String(), derr)
		}
	})
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"?$select=firstname,lastname&$filter=firstname eq 'a'&$top=3",
		"$expand=parentcustomerid_account($select=name;$select=name)&$orderby=lastname desc",
		"?$filter=mobilephone%20eq%20'%2B358'", "%zz", "&&&=", "$top=", "$expand=(", "?$select=",
		"$expand=contact_customer_contacts($select=fullname;$filter=statecode eq 0;$orderby=lastname;$top=2)",
		"$expand=parentcustomerid_account($select=name;$expand=primarycontactid($select=fullname))",
		"$apply=groupby((statecode),aggregate($count as n))&$orderby=n desc", "$count=true&@p1=1",
		"$filter=contact_customer_contacts/any(c:c/firstname eq 'Ada' and contact_customer_contacts/all(d:d/statecode eq 0))",
		"$filter=parentcustomerid_account/name eq 'x'",
		"$filter=contains(@p1,'A') and lastname ne @p2&$orderby=@p1 desc&@p1=firstname&@p2='O''Brien'", "$filter=@&@=x", "$filter=@p1@p2&@p1=@p2",
	} {
		f.Add(s)
	}
	cat, ent := testEntity(f)
	f.Fuzz(func(t *testing.T, qs string) {
		q, derr := parseQuery(cat, ent, qs)
		if refused(t, derr) {
			return
		}
		if q.top < 0 || q.top > maxTop {
			t.Fatalf("top = %d", q.top)
		}
		for _, c := range q.selects {
			if !ent.columns[c] {
				t.Fatalf("accepted unknown column %q", c)
			}
		}
	})
}

func FuzzApply(f *testing.F) {
	for _, s := range []string{
		"groupby((statecode),aggregate($count as n))", "aggregate(statecode with sum as s)",
		"filter(firstname eq 'Ada')/groupby((lastname))", "groupby((firstname,lastname))", "compute(x)", "groupby(", "/",
	} {
		f.Add(s)
	}
	_, ent := testEntity(f)
	f.Fuzz(func(t *testing.T, src string) {
		q, derr := parseApply(ent, src, filterContext{})
		if refused(t, derr) {
			return
		}
		if len(q.cols) == 0 {
			t.Fatal("an $apply without columns was accepted")
		}
	})
}

func FuzzAltKey(f *testing.F) {
	for _, s := range []string{"firstname='Ada',emailaddress1='a@b'", "emailaddress1='x''y',firstname='z'", "firstname=1,emailaddress1=null", "=", "a='"} {
		f.Add(s)
	}
	e := newEmulator(f, Config{Schema: []byte(`{"alternateKeys":{"contact":[["firstname","emailaddress1"]]}}`)})
	ent := e.cat.byLogical["contact"]
	f.Fuzz(func(t *testing.T, key string) {
		kvs, derr := e.parseAltKey(ent, key)
		if refused(t, derr) {
			return
		}
		if len(kvs) != 2 {
			t.Fatalf("accepted %q as %v", key, kvs)
		}
		e.findByAltKey(ent, kvs)
	})
}
