package emulator_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		seed   string
		want   string // "" = ok
	}{
		{name: "zero config"},
		{name: "example files", schema: string(readFile(t, "testdata/schema-example.json")), seed: string(readFile(t, "testdata/seed-example.json"))},
		{name: "bad schema json", schema: `{`, want: "schema:"},
		{name: "unknown schema key", schema: `{"entites":[]}`, want: `schema: json: unknown field "entites"`},
		{name: "entity without name", schema: `{"entities":[{"entitySetName":"x"}]}`, want: "schema: entities[0].logicalName is required"},
		{name: "new entity without set", schema: `{"entities":[{"logicalName":"new_x","primaryIdAttribute":"new_xid"}]}`, want: "schema: entities[0].entitySetName is required"},
		{name: "lookup to unknown", schema: `{"entities":[{"logicalName":"new_x","entitySetName":"new_xs","primaryIdAttribute":"new_xid","lookups":{"new_y":["nope"]}}]}`, want: `unknown entity "nope"`},
		{name: "set clash", schema: `{"entities":[{"logicalName":"new_x","entitySetName":"contacts","primaryIdAttribute":"new_xid"}]}`, want: `entity set "contacts"`},
		{name: "rule entity", schema: `{"duplicateRules":[{"attributes":["x"]}]}`, want: "schema: duplicateRules[0].entity is required"},
		{name: "rule attribute", schema: `{"duplicateRules":[{"entity":"contact","attributes":["shoesize"]}]}`, want: "schema: duplicateRules[0].attributes[0]"},
		{name: "operation kind", schema: `{"operations":[{"name":"new_A","kind":"proc"}]}`, want: "schema: operations[0].kind"},
		{name: "operation dup", schema: `{"operations":[{"name":"WhoAmI","kind":"function"}]}`, want: "schema: operations[0].name"},
		{name: "seed unknown entity", seed: `{"nosuch":[{}]}`, want: "seed: nosuch: unknown entity"},
		{name: "seed bad column", seed: `{"contact":[{"firstname":"a"},{"shoesize":1}]}`, want: "seed: contact[1]: The property 'shoesize'"},
		{name: "seed duplicate key", seed: `{"contact":[{"contactid":"` + adaID + `"},{"contactid":"` + adaID + `"}]}`, want: "seed: contact[1]: A record with matching key values"},
		{name: "seed dangling lookup", seed: `{"account":[{"primarycontactid@odata.bind":"/contacts(` + adaID + `)"}]}`, want: "seed: account[0]: contact With Id"},
		{name: "seed not an object", seed: `[1]`, want: "seed: want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg emulator.Config
			if tt.schema != "" {
				cfg.Schema = []byte(tt.schema)
			}
			if tt.seed != "" {
				cfg.Seed = []byte(tt.seed)
			}
			e, err := emulator.New(cfg)
			if tt.want == "" {
				if err != nil || e.Name() != "emulator" {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestBuiltinMetadata(t *testing.T) {
	e := newEmulator(t, emulator.Config{})
	tests := []struct{ logical, set, id, name string }{
		{"account", "accounts", "accountid", "name"},
		{"contact", "contacts", "contactid", "fullname"},
		{"incident", "incidents", "incidentid", "title"},
		{"lead", "leads", "leadid", "fullname"},
		{"phonecall", "phonecalls", "activityid", "subject"},
		{"task", "tasks", "activityid", "subject"},
	}
	for _, tt := range tests {
		m, ok := e.Entity(tt.logical)
		if !ok || m.EntitySetName != tt.set || m.PrimaryIDAttribute != tt.id || m.PrimaryNameAttribute != tt.name {
			t.Errorf("%s = %+v", tt.logical, m)
		}
	}
	if _, ok := e.Entity("nosuch"); ok {
		t.Error("nosuch exists")
	}
	// Activities key on activityid and bind polymorphic regarding lookups.
	cid := callMap(t, e, protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"lastname": "L"}})["id"].(string)
	pid := callMap(t, e, protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{
		"subject": "call", "regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + cid + ")"}})["id"].(string)
	rec := callMap(t, e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "phonecall", "entityId": pid,
		"queryParameters": "?$select=subject,_regardingobjectid_value&$expand=regardingobjectid_contact_phonecall($select=fullname)"})
	if rec["activityid"] != pid || rec["_regardingobjectid_value"] != cid || rec["regardingobjectid_contact_phonecall"].(map[string]any)["fullname"] != "L" {
		t.Fatalf("phonecall = %v", rec)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newSeeded(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 25 {
				res, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"firstname": fmt.Sprint(i), "lastname": fmt.Sprint(j)}})
				if err != nil {
					t.Error(err)
					return
				}
				id := decodeMap(t, res)["id"].(string)
				if _, err := call(e, protocol.MethodUpdateRecord, map[string]any{"entityName": "contact", "entityId": id, "value": map[string]any{"jobtitle": "x"}}); err != nil {
					t.Error(err)
				}
				if _, err := call(e, protocol.MethodSearch, map[string]any{"entityName": "contact", "queryParameters": "$filter=jobtitle eq 'x'&$top=3"}); err != nil {
					t.Error(err)
				}
				_ = e.Stats()
			}
		})
	}
	wg.Wait()
	st := e.Stats()
	if st.Tables["contact"].Records != 2+16*25 || st.Operations["createrecord"] != 16*25 {
		t.Fatalf("stats = %+v", st)
	}
}

// A polymorphic lookup binds and expands a custom target entity, whose
// logical name holds "_" ("regardingobjectid_new_ticket_phonecall"), and
// a target whose name starts with another target's is told apart from it.
// Without the activity's suffix the name is not one Dataverse serves.
func TestPolymorphicLookupToCustomEntity(t *testing.T) {
	e := newEmulator(t, emulator.Config{Schema: []byte(`{"entities": [
		{"logicalName": "new_ticket", "entitySetName": "new_tickets", "primaryIdAttribute": "new_ticketid", "primaryNameAttribute": "new_name", "attributes": ["new_name"]},
		{"logicalName": "new_ticketline", "entitySetName": "new_ticketlines", "primaryIdAttribute": "new_ticketlineid", "primaryNameAttribute": "new_name", "attributes": ["new_name"]},
		{"logicalName": "phonecall", "lookups": {"regardingobjectid": ["contact", "new_ticket", "new_ticketline"]}}]}`)})
	for _, tt := range []struct{ set, entity, nav string }{
		{"new_tickets", "new_ticket", "regardingobjectid_new_ticket_phonecall"},
		{"new_ticketlines", "new_ticketline", "regardingobjectid_new_ticketline_phonecall"},
	} {
		tid := callMap(t, e, protocol.MethodCreateRecord, map[string]any{"entityName": tt.entity, "value": map[string]any{"new_name": tt.nav}})["id"].(string)
		pid := callMap(t, e, protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{
			"subject": "call", tt.nav + "@odata.bind": "/" + tt.set + "(" + tid + ")"}})["id"].(string)
		rec := callMap(t, e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "phonecall", "entityId": pid,
			"queryParameters": "?$select=_regardingobjectid_value&$expand=" + tt.nav + "($select=new_name)"})
		if rec["_regardingobjectid_value"] != tid {
			t.Errorf("%s: _regardingobjectid_value = %v, want %s", tt.nav, rec["_regardingobjectid_value"], tid)
		}
		if x, _ := rec[tt.nav].(map[string]any); x == nil || x["new_name"] != tt.nav {
			t.Errorf("%s: expanded %s = %v", tt.nav, tt.nav, rec[tt.nav])
		}
		short := "regardingobjectid_" + tt.entity
		_, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "phonecall", "value": map[string]any{
			"subject": "call", short + "@odata.bind": "/" + tt.set + "(" + tid + ")"}})
		if d, ok := protocol.BackendData(err); !ok || d.HTTPStatus != 400 || !strings.Contains(d.ErrorMsg, "'"+short+"'") {
			t.Errorf("bind %s: %v, want 400 naming it", short, err)
		}
		_, err = call(e, protocol.MethodRetrieveRecord, map[string]any{"entityName": "phonecall", "entityId": pid,
			"queryParameters": "?$expand=" + short + "($select=new_name)"})
		if d, ok := protocol.BackendData(err); !ok || d.DataverseCode != "0x0" || !strings.Contains(d.ErrorMsg, "'"+short+"'") {
			t.Errorf("$expand=%s: %v, want 400 0x0 naming it", short, err)
		}
	}
}
