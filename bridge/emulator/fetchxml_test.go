package emulator_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// The fixed seed of the FetchXML tables: the built-in seed (accounts
// Analytical Engines 12 employees and Bletchley Consulting 40; contacts Ada
// Lovelace → Analytical, Alan Turing → Bletchley, Grace Hopper without an
// account), on a fixed clock.
func newFetchEmulator(t testing.TB) *emulator.Emulator {
	t.Helper()
	e := newEmulator(t, emulator.Config{Seed: emulator.BuiltinSeed, Now: func() time.Time { return time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC) }})
	return e
}

// rowsOf renders rows as "k=v,k=v;…" over the given keys, for compact
// expectations.
func rowsOf(rows []any, keys ...string) string {
	var out []string
	for _, r := range rows {
		m := r.(map[string]any)
		var parts []string
		for _, k := range keys {
			v, _ := json.Marshal(m[k])
			parts = append(parts, k+"="+strings.Trim(string(v), `"`))
		}
		out = append(out, strings.Join(parts, ","))
	}
	return strings.Join(out, ";")
}

// checkBothFaces asks the Web API face for webPath (below /api/data/v9.2/,
// its query escaped) and cif.search for entity with cifQuery (as a CIF
// caller writes it), and fails the test where either answer's rows, as
// rowsOf renders them over keys, are not want.
func checkBothFaces(t *testing.T, e *emulator.Emulator, srv *httptest.Server, webPath, entity, cifQuery string, keys []string, want string) {
	t.Helper()
	r := do(t, srv, "GET", "/api/data/v9.2/"+webPath, "")
	if r.status != 200 {
		t.Fatalf("web api: %d %v", r.status, r.body)
	}
	if got := rowsOf(r.body["value"].([]any), keys...); got != want {
		t.Fatalf("web api rows\n got %s\nwant %s", got, want)
	}
	res, err := call(e, protocol.MethodSearch, map[string]any{"entityName": entity, "queryParameters": cifQuery})
	if err != nil {
		t.Fatalf("cif.search: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(res, &m); err != nil {
		t.Fatalf("cif.search result %s: %v", res, err)
	}
	var rows []any
	for i := range len(m) {
		rows = append(rows, m[strconv.Itoa(i)])
	}
	if got := rowsOf(rows, keys...); got != want {
		t.Fatalf("cif.search rows\n got %s\nwant %s", got, want)
	}
}

// checkFilters runs each $filter of cases over the entity set (selecting
// and ordering by col) through both faces, one subtest per filter; the
// values are the rows wanted, as rowsOf renders them.
func checkFilters(t *testing.T, e *emulator.Emulator, srv *httptest.Server, set, col string, cases map[string]string) {
	for filter, want := range cases {
		t.Run(filter, func(t *testing.T) {
			qs := "$select=" + col + "&$orderby=" + col + "&$filter="
			checkBothFaces(t, e, srv, set+"?"+qs+url.QueryEscape(filter), strings.TrimSuffix(set, "s"), "?"+qs+filter, []string{col}, want)
		})
	}
}

// TestFetchXML: FetchXML queries with the rows expected from the fixed
// seed, through the Web API face and through cif.search alike.
func TestFetchXML(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	tests := []struct {
		name, set, fetch string
		keys             []string
		want             string
	}{
		{"attributes and order", "contacts", `<fetch><entity name="contact"><attribute name="fullname"/><order attribute="lastname" descending="true"/></entity></fetch>`,
			[]string{"fullname"}, "fullname=Alan Turing;fullname=Ada Lovelace;fullname=Grace Hopper"},
		{"eq is case-insensitive", "contacts", `<fetch><entity name="contact"><attribute name="fullname"/><filter><condition attribute="firstname" operator="eq" value="ADA"/></filter></entity></fetch>`,
			[]string{"fullname"}, "fullname=Ada Lovelace"},
		{"nested or", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/><filter type="and"><condition attribute="statecode" operator="eq" value="0"/><filter type="or"><condition attribute="firstname" operator="eq" value="Ada"/><condition attribute="lastname" operator="like" value="%opp%"/></filter></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Ada;firstname=Grace"},
		{"like wildcards", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><filter><condition attribute="mobilephone" operator="like" value="+35840_2%"/></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Ada"},
		{"not-like, begins-with", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/><filter><condition attribute="lastname" operator="not-like" value="%ing"/><condition attribute="firstname" operator="begins-with" value="a"/></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Ada"},
		{"in with values", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/><filter><condition attribute="firstname" operator="in"><value>Alan</value><value>Grace</value></condition></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Alan;firstname=Grace"},
		{"not-in", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><filter><condition attribute="firstname" operator="not-in"><value>Alan</value><value>Grace</value></condition></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Ada"},
		{"null and not-null lookup", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><filter><condition attribute="parentcustomerid" operator="null"/></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Grace"},
		{"numeric gt and between", "accounts", `<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="numberofemployees" operator="gt" value="9"/><condition attribute="numberofemployees" operator="between"><value>10</value><value>20</value></condition></filter></entity></fetch>`,
			[]string{"name"}, "name=Analytical Engines Ltd"},
		{"date operators", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><filter><condition attribute="createdon" operator="today"/><condition attribute="createdon" operator="last-x-days" value="2"/><condition attribute="createdon" operator="on-or-after" value="2026-06-15"/><condition attribute="firstname" operator="eq" value="Grace"/></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Grace"},
		{"eq-userid", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><filter><condition attribute="ownerid" operator="eq-userid"/><condition attribute="firstname" operator="eq" value="Ada"/></filter></entity></fetch>`,
			[]string{"firstname"}, "firstname=Ada"},
		{"inner link-entity", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/><link-entity name="account" from="accountid" to="parentcustomerid" alias="acc"><attribute name="name"/></link-entity></entity></fetch>`,
			[]string{"firstname", "acc.name"}, "firstname=Ada,acc.name=Analytical Engines Ltd;firstname=Alan,acc.name=Bletchley Consulting"},
		{"outer link-entity", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/><link-entity name="account" from="accountid" to="parentcustomerid" alias="acc" link-type="outer"><attribute name="numberofemployees"/></link-entity></entity></fetch>`,
			[]string{"firstname", "acc.numberofemployees"}, "firstname=Ada,acc.numberofemployees=12;firstname=Alan,acc.numberofemployees=40;firstname=Grace,acc.numberofemployees=null"},
		{"link-entity filter", "contacts", `<fetch><entity name="contact"><attribute name="firstname"/><link-entity name="account" from="accountid" to="parentcustomerid"><filter><condition attribute="numberofemployees" operator="ge" value="20"/></filter></link-entity></entity></fetch>`,
			[]string{"firstname"}, "firstname=Alan"},
		{"one-to-many link", "accounts", `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/><link-entity name="contact" from="parentcustomerid" to="accountid" alias="c"><attribute name="firstname"/></link-entity></entity></fetch>`,
			[]string{"name", "c.firstname"}, "name=Analytical Engines Ltd,c.firstname=Ada;name=Bletchley Consulting,c.firstname=Alan"},
		{"top", "contacts", `<fetch top="2"><entity name="contact"><attribute name="firstname"/><order attribute="firstname" descending="true"/></entity></fetch>`,
			[]string{"firstname"}, "firstname=Grace;firstname=Alan"},
		{"count and page 2", "contacts", `<fetch count="2" page="2"><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/></entity></fetch>`,
			[]string{"firstname"}, "firstname=Grace"},
		{"aggregate count and sum", "accounts", `<fetch aggregate="true"><entity name="account"><attribute name="accountid" alias="n" aggregate="count"/><attribute name="numberofemployees" alias="staff" aggregate="sum"/><attribute name="numberofemployees" alias="most" aggregate="max"/><attribute name="numberofemployees" alias="mean" aggregate="avg"/></entity></fetch>`,
			[]string{"n", "staff", "most", "mean"}, "n=2,staff=52,most=40,mean=26"},
		{"aggregate groupby", "contacts", `<fetch aggregate="true"><entity name="contact"><attribute name="statecode" alias="state" groupby="true"/><attribute name="contactid" alias="n" aggregate="count"/><order alias="state"/></entity></fetch>`,
			[]string{"state", "n"}, "state=0,n=3"},
		{"distinct", "contacts", `<fetch distinct="true"><entity name="contact"><attribute name="statecode"/></entity></fetch>`,
			[]string{"statecode", "contactid"}, "statecode=0,contactid=null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := "fetchXml=" + url.QueryEscape(tt.fetch)
			checkBothFaces(t, e, srv, tt.set+"?"+q, strings.TrimSuffix(tt.set, "s"), "?"+q, tt.keys, tt.want)
		})
	}
}

// TestFetchXMLPaging: count pages carry morerecords and the paging cookie;
// returntotalrecordcount adds the total.
func TestFetchXMLPaging(t *testing.T) {
	srv := newWebServer(t, newFetchEmulator(t))
	get := func(page int) map[string]any {
		f := `<fetch count="2" page="` + strconv.Itoa(page) + `" returntotalrecordcount="true"><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/></entity></fetch>`
		r := do(t, srv, "GET", "/api/data/v9.2/contacts?fetchXml="+url.QueryEscape(f), "")
		if r.status != 200 {
			t.Fatalf("page %d: %d %v", page, r.status, r.body)
		}
		return r.body
	}
	p1 := get(1)
	cookie, _ := p1["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].(string)
	if p1["@Microsoft.Dynamics.CRM.morerecords"] != true || !strings.Contains(cookie, `pagenumber="2"`) || p1["@Microsoft.Dynamics.CRM.totalrecordcount"] != float64(3) {
		t.Fatalf("page 1: %v", p1)
	}
	p2 := get(2)
	if p2["@Microsoft.Dynamics.CRM.morerecords"] != false || p2["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] != nil || len(p2["value"].([]any)) != 1 {
		t.Fatalf("page 2: %v", p2)
	}
	// The pagingcookie attribute is URL-encoded twice; Microsoft's samples
	// decode it with decodeURIComponent / Uri.UnescapeDataString, which
	// leave a '+' a '+': the cookie must come out as XML, its spaces as
	// spaces, and go back in the next page's paging-cookie.
	m := regexp.MustCompile(`pagingcookie="([^"]*)"`).FindStringSubmatch(cookie)
	if m == nil {
		t.Fatalf("no pagingcookie in %q", cookie)
	}
	inner, err := url.PathUnescape(m[1])
	if err == nil {
		inner, err = url.PathUnescape(inner)
	}
	var parsed struct {
		XMLName xml.Name `xml:"cookie"`
		Page    string   `xml:"page,attr"`
	}
	if err != nil || xml.Unmarshal([]byte(inner), &parsed) != nil || parsed.Page != "1" {
		t.Fatalf("pagingcookie %q decodes to %q (%v), want a <cookie page=\"1\"> element", m[1], inner, err)
	}
	var esc strings.Builder
	xml.EscapeText(&esc, []byte(inner))
	f := `<fetch count="2" page="2" paging-cookie="` + esc.String() + `"><entity name="contact"><attribute name="firstname"/><order attribute="firstname"/></entity></fetch>`
	if r := do(t, srv, "GET", "/api/data/v9.2/contacts?fetchXml="+url.QueryEscape(f), ""); r.status != 200 || len(r.body["value"].([]any)) != 1 {
		t.Fatalf("page 2 with the cookie: %d %v", r.status, r.body)
	}
}

// TestFetchXMLRefusals: errors name what to fix; what is not implemented
// is refused by name.
func TestFetchXMLRefusals(t *testing.T) {
	srv := newWebServer(t, newFetchEmulator(t))
	for fetch, want := range map[string]string{
		`<fetch>`: "not valid XML",
		`<fetch><entity name="account"/></fetch>`:                                                                                                "does not match the entity set 'contacts'",
		`<fetch top="2" count="1"><entity name="contact"/></fetch>`:                                                                              "top attribute can't be specified",
		`<fetch><entity name="contact"><attribute name="nope"/></entity></fetch>`:                                                                "'contact' entity doesn't contain attribute with Name = 'nope'",
		`<fetch><entity name="contact"><filter><condition attribute="firstname" operator="under" value="x"/></filter></entity></fetch>`:          "FetchXML operator 'under'",
		`<fetch><entity name="contact"><filter><condition entityname="acc" attribute="name" operator="eq" value="x"/></filter></entity></fetch>`: "conditions on another entity",
		`<fetch><entity name="contact"><link-entity name="account" from="accountid" to="parentcustomerid"><link-entity name="contact" from="contactid" to="primarycontactid"/></link-entity></entity></fetch>`: "nested <link-entity>",
		`<fetch><entity name="contact"><attribute name="firstname" dategrouping="year"/></entity></fetch>`:                                                                                                     "attribute 'dategrouping'",
		`<fetch><entity name="contact"><mystery/></entity></fetch>`:                                                                                                                                            "element <mystery>",
		`<fetch aggregate="true"><entity name="contact"><attribute name="firstname"/></entity></fetch>`:                                                                                                        "needs aggregate or groupby",
		`<fetch><entity name="account"><filter><condition attribute="numberofemployees" operator="eq" value="many"/></filter></entity></fetch>`:                                                                "not a valid number",
	} {
		set := "contacts"
		if strings.Contains(fetch, `value="many"`) {
			set = "accounts"
		}
		r := do(t, srv, "GET", "/api/data/v9.2/"+set+"?fetchXml="+url.QueryEscape(fetch), "")
		if r.status != 400 || !strings.Contains(errMsg(r), want) {
			t.Errorf("%s: %d %v, want 400 naming %q", fetch, r.status, r.body, want)
		}
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/contacts?$top=1&fetchXml="+url.QueryEscape(`<fetch><entity name="contact"/></fetch>`), ""); r.status != 400 || !strings.Contains(errMsg(r), "cannot be combined with '$top'") {
		t.Errorf("fetchXml with $top: %d %v", r.status, r.body)
	}
}

func FuzzFetchXML(f *testing.F) {
	for _, s := range []string{
		`<fetch><entity name="contact"><attribute name="fullname"/></entity></fetch>`,
		`<fetch count="1" page="2"><entity name="contact"><all-attributes/><filter type="or"><condition attribute="firstname" operator="like" value="%a_"/><filter><condition attribute="createdon" operator="last-x-days" value="3"/></filter></filter></entity></fetch>`,
		`<fetch aggregate="true"><entity name="contact"><attribute name="statecode" alias="s" groupby="true"/><attribute name="contactid" alias="n" aggregate="count"/></entity></fetch>`,
		`<fetch><entity name="contact"><link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="a"><attribute name="name"/></link-entity></entity></fetch>`,
		`<fetch><entity name="contact"><filter><condition attribute="firstname" operator="in"><value>a</value></condition></filter></entity></fetch>`,
	} {
		f.Add(s)
	}
	e := newFetchEmulator(f)
	f.Fuzz(func(t *testing.T, doc string) {
		res, err := call(e, protocol.MethodSearch, map[string]any{"entityName": "contact", "queryParameters": "?fetchXml=" + url.QueryEscape(doc)})
		if err != nil {
			var pe *protocol.Error
			if !errorsAs(err, &pe) || pe.Message == "" {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if !json.Valid(res) {
			t.Fatalf("invalid result %s", res)
		}
	})
}

func errorsAs(err error, pe **protocol.Error) bool {
	p, ok := err.(*protocol.Error)
	if ok {
		*pe = p
	}
	return ok && !slices.Contains([]int64{protocol.CodeInternal}, p.Code)
}

// TestApply: $apply groupby/aggregate over the fixed seed, through the Web
// API face and cif.search.
func TestApply(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	tests := []struct {
		set, qs string
		keys    []string
		want    string
	}{
		{"accounts", "$apply=aggregate(numberofemployees with sum as total,$count as n)", []string{"total", "n"}, "total=52,n=2"},
		{"accounts", "$apply=aggregate(numberofemployees with average as mean,numberofemployees with countdistinct as d,numberofemployees with min as least)", []string{"mean", "d", "least"}, "mean=26,d=2,least=12"},
		{"contacts", "$apply=groupby((statecode),aggregate($count as n))", []string{"statecode", "n"}, "statecode=0,n=3"},
		{"contacts", "$apply=filter(firstname ne 'Ada')/groupby((lastname))&$orderby=lastname desc", []string{"lastname"}, "lastname=Turing;lastname=Hopper"},
		{"contacts", "$apply=groupby((firstname,lastname))&$orderby=firstname", []string{"firstname", "lastname"}, "firstname=Ada,lastname=Lovelace;firstname=Alan,lastname=Turing;firstname=Grace,lastname=Hopper"},
	}
	for _, tt := range tests {
		t.Run(tt.qs, func(t *testing.T) {
			checkBothFaces(t, e, srv, tt.set+"?"+strings.ReplaceAll(tt.qs, " ", "%20"), strings.TrimSuffix(tt.set, "s"), "?"+tt.qs, tt.keys, tt.want)
		})
	}
	if r := do(t, srv, "GET", "/api/data/v9.2/accounts(22222222-2222-4222-8222-222222222222)?$apply=groupby((name))", ""); r.status != 400 {
		t.Fatalf("$apply on one record: %d", r.status)
	}
}

// TestLookupPathFilter: single-valued navigation paths in $filter, through
// the Web API face and cif.search.
func TestLookupPathFilter(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	checkFilters(t, e, srv, "contacts", "firstname", map[string]string{
		"parentcustomerid_account/name eq 'Analytical Engines Ltd'":                                            "firstname=Ada",
		"parentcustomerid_account/numberofemployees gt 20":                                                     "firstname=Alan",
		"parentcustomerid_account/name eq null":                                                                "firstname=Grace",
		"parentcustomerid_contact/fullname eq 'Ada Lovelace'":                                                  "",
		"parentcustomerid_account/name ne null and not (firstname eq 'Alan')":                                  "firstname=Ada",
		"parentcustomerid_account/accountnumber eq 'BC-7' or parentcustomerid_account/accountnumber eq 'AE-1'": "firstname=Ada;firstname=Alan",
	})
}

// TestFilterLambdas: any/all over one-to-many relationships, through the
// Web API face and cif.search.
func TestFilterLambdas(t *testing.T) {
	e := newFetchEmulator(t)
	srv := newWebServer(t, e)
	if r := do(t, srv, "POST", "/api/data/v9.2/contacts", `{"lastname":"Inactive","statecode":1,"statuscode":2,"parentcustomerid_account@odata.bind":"/accounts(44444444-4444-4444-8444-444444444444)"}`); r.status != 204 {
		t.Fatal(r.body)
	}
	checkFilters(t, e, srv, "accounts", "name", map[string]string{
		"contact_customer_accounts/any(c:c/firstname eq 'Ada')":                            "name=Analytical Engines Ltd",
		"contact_customer_accounts/all(c:c/statecode eq 0)":                                "name=Analytical Engines Ltd",
		"contact_customer_accounts/any()":                                                  "name=Analytical Engines Ltd;name=Bletchley Consulting",
		"contact_customer_accounts/any(c:contains(c/lastname,'ur') and c/statecode eq 0)":  "name=Bletchley Consulting",
		"not contact_customer_accounts/any(c:c/lastname eq 'Inactive') and statecode eq 0": "name=Analytical Engines Ltd",
	})
	if r := do(t, srv, "GET", "/api/data/v9.2/accounts?$filter="+url.QueryEscape("contact_customer_accounts/any(c:c/nope eq 1)"), ""); r.status != 400 || !strings.Contains(errMsg(r), "'nope'") {
		t.Fatalf("unknown column in a lambda: %d %v", r.status, r.body)
	}
}

// TestEmptyResultsAreArrays: a FetchXML or $apply query that matches
// nothing answers "value": [] as Dataverse does (a client reads
// value.length), never null; an aggregate without groupby still answers
// its one row, whose count is 0.
func TestEmptyResultsAreArrays(t *testing.T) {
	srv := newWebServer(t, newFetchEmulator(t))
	none := `<filter><condition attribute="fullname" operator="eq" value="Nobody"/></filter>`
	for _, path := range []string{
		"contacts?fetchXml=" + url.QueryEscape(`<fetch><entity name="contact"><attribute name="fullname"/>`+none+`</entity></fetch>`),
		"contacts?fetchXml=" + url.QueryEscape(`<fetch count="2" page="3"><entity name="contact"><attribute name="fullname"/></entity></fetch>`),
		"contacts?fetchXml=" + url.QueryEscape(`<fetch aggregate="true"><entity name="contact"><attribute name="lastname" groupby="true" alias="l"/>`+none+`</entity></fetch>`),
		"contacts?$apply=" + url.QueryEscape("filter(fullname eq 'Nobody')/groupby((lastname))"),
		"contacts?$select=fullname&$filter=" + url.QueryEscape("fullname eq 'Nobody'"),
	} {
		res := send(t, srv, "GET", "/api/data/v9.2/"+path, "", nil)
		var body struct {
			Value json.RawMessage `json:"value"`
		}
		err := json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || string(body.Value) != "[]" {
			t.Errorf("%s: %d value %s (%v), want []", path, res.StatusCode, body.Value, err)
		}
	}
	r := do(t, srv, "GET", "/api/data/v9.2/contacts?fetchXml="+url.QueryEscape(`<fetch aggregate="true"><entity name="contact"><attribute name="contactid" aggregate="count" alias="n"/>`+none+`</entity></fetch>`), "")
	if rows, _ := r.body["value"].([]any); r.status != 200 || len(rows) != 1 || rows[0].(map[string]any)["n"] != float64(0) {
		t.Errorf("count of nothing: %d %v, want one row with n 0", r.status, r.body)
	}
}
