package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestCreateStoresTheSameRow pins, byte for byte, the row a create stores
// and what a retrieve of it returns, on the CIF path, xrm.execute and the
// Web API (one store): the create path's optimizations must not change a
// column, its kind, its text or its place. The rows and reads it wants are
// the golden files under testdata/create/same-row.
func TestCreateStoresTheSameRow(t *testing.T) {
	clock := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	e := newEmulator(t, Config{Now: func() time.Time { return clock }})
	exec := func(method, params string) json.RawMessage {
		t.Helper()
		res, err := e.Execute(context.Background(), &correlation.Attempt{Session: "s", Method: method, Params: json.RawMessage(params)})
		if err != nil {
			t.Fatalf("%s %s: %v", method, params, err)
		}
		return res
	}
	var ids []string
	created := func(res []byte) string {
		t.Helper()
		var r struct {
			ID        string
			ContactID string
		}
		if err := json.Unmarshal(res, &r); err != nil || r.ID+r.ContactID == "" {
			t.Fatalf("create answered %s", res)
		}
		ids = append(ids, r.ID+r.ContactID)
		return r.ID + r.ContactID
	}
	stored := func(logical, id string) string {
		t.Helper()
		e.mu.RLock()
		defer e.mu.RUnlock()
		r := e.store.get(logical, id)
		if r == nil {
			t.Fatalf("%s %s not stored", logical, id)
		}
		if want := uuid.MustParse(id); r.id != want {
			t.Fatalf("stored under %v, want %v", r.id, want)
		}
		return dumpRow(r.fields, ids) + "targets:\n" + dumpRow(r.targets, ids)
	}
	srv := httptest.NewServer(e.WebAPIHandler())
	defer srv.Close()
	web := func(method, path, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "return=representation")
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}

	// A CIF create as the load driver sends it (fullname given and
	// recomputed, no key): the bridge's hot path.
	c1 := created(exec("cif.createrecord", `{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}}`))
	// An account with its key in upper case, state and status given.
	const acct = "ABCDEF01-2345-4678-9ABC-DEF012345678"
	c2 := exec("cif.createrecord", `{"entityName":"account","value":{"accountid":"`+acct+`","name":"Contoso","statecode":1,"statuscode":2,"telephone1":null,"revenue":12.5,"numberofemployees":7}}`)
	if want := `{"entityType":"account","id":"` + strings.ToLower(acct) + `"}`; string(c2) != want {
		t.Errorf("create with a key answered %s, want %s", c2, want)
	}
	ids = append(ids, strings.ToLower(acct))
	// A contact bound to that account, its body a string holding the
	// object, with a member written twice and an annotation.
	c3 := created(exec("cif.createrecord", `{"entityName":"contact","value":"{\"lastname\":\"One\",\"parentcustomerid_account@odata.bind\":\"/accounts(`+acct+`)\",\"lastname\":\"Two\",\"x@OData.Community.Display.V1.FormattedValue\":\"y\",\"statecode\":0,\"fullname\":\"x\"}"}`))
	// A task: its default statuscode is 2.
	c4 := created(exec("cif.createrecord", `{"entityName":"task","value":{"subject":"Call back","prioritycode":2}}`))
	// A phonecall: a boolean, a lookup with several targets.
	c7 := created(exec("cif.createrecord", `{"entityName":"phonecall","value":{"subject":"In","directioncode":false,"regardingobjectid_account_phonecall@odata.bind":"accounts(`+acct+`)"}}`))
	// xrm.execute's create.
	c5 := created(exec(protocol.BackendExecute, `{"data":{"etn":"contact","payload":{"firstname":"Ada","lastname":"Lovelace"}},"metaData":{"operationType":2,"operationName":"Create"}}`))
	// The Web API: a create and an upsert of a missing record.
	st, _, body := web(http.MethodPost, WebAPIPrefix+"contacts", `{"firstname":"Grace","lastname":"Hopper","parentcustomerid_account@odata.bind":"/accounts(`+acct+`)"}`)
	if st != http.StatusCreated {
		t.Fatalf("POST contacts: %d %s", st, body)
	}
	c6 := created([]byte(body))
	const up = "0f0e0d0c-0b0a-4908-8706-050403020100"
	ids = append(ids, up)
	if st, _, body := web(http.MethodPatch, WebAPIPrefix+"contacts("+up+")", `{"lastname":"Upserted","fullname":"ignored"}`); st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("PATCH upsert: %d %s", st, body)
	}
	got := strings.Join([]string{
		stored("contact", c1), stored("account", acct), stored("contact", c3), stored("task", c4), stored("phonecall", c7),
		stored("contact", c5), stored("contact", c6), stored("contact", up),
	}, "--\n")
	if want := readGolden(t, "rows.golden"); got != want {
		t.Errorf("stored rows changed:\n%s\nwant:\n%s", got, want)
	}

	// What reads return of them, byte for byte (ids aside).
	norm := func(s string) string {
		s = strings.ReplaceAll(s, srv.URL, "<srv>")
		for i, id := range ids {
			s = strings.ReplaceAll(s, id, fmt.Sprintf("<id%d>", i))
		}
		return s
	}
	reads := []string{
		norm(string(exec("cif.retrieverecord", `{"entityName":"contact","entityId":"`+c1+`","queryParameters":""}`))),
		norm(string(exec("cif.retrieverecord", `{"entityName":"contact","entityId":"`+c3+`","queryParameters":"?$select=fullname,lastname,_parentcustomerid_value&$expand=parentcustomerid_account($select=name)"}`))),
		norm(string(exec("cif.retrieverecord", `{"entityName":"account","entityId":"`+acct+`","queryParameters":""}`))),
	}
	_, _, wbody := web(http.MethodGet, WebAPIPrefix+"contacts("+c6+")", "")
	reads = append(reads, norm(wbody))
	if got, want := strings.Join(reads, "\n"), readGolden(t, "reads.golden"); got != want {
		t.Errorf("reads changed:\n%s\nwant:\n%s", got, want)
	}
}

// readGolden gives the text of TestCreateStoresTheSameRow's golden file name.
func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "create", "same-row", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
