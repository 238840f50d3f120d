package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestSearchCap: cif.search and cif.searchandopenrecords answer at most 5000
// records (CIF's documented maximum, the dataverse backend's too), with or
// without $top; the Web API face is not capped but pages past them.
func TestSearchCap(t *testing.T) {
	const maxRecords, n = 5000, 5003
	e, err := emulator.New(emulator.Config{MaxRecords: -1}) // more records than the default bound
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := call(e, protocol.MethodCreateRecord, map[string]any{"entityName": "task", "value": map[string]any{"subject": fmt.Sprintf("t%04d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, method, qs string
		want             int
	}{
		{"search without $top", protocol.MethodSearch, "?$select=subject&$orderby=subject", maxRecords},
		{"searchandopenrecords without $top", protocol.MethodSearchAndOpenRecords, "?$select=subject&$orderby=subject", maxRecords},
		{"$top above the cap", protocol.MethodSearch, "?$select=subject&$orderby=subject&$top=5002", maxRecords},
		{"$top below the cap", protocol.MethodSearch, "?$select=subject&$orderby=subject&$top=4999", 4999},
		{"a filter under the cap", protocol.MethodSearch, "?$select=subject&$filter=startswith(subject,'t500')&$orderby=subject", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(e, tt.method, map[string]any{"entityName": "task", "queryParameters": tt.qs, "searchOnly": tt.method == protocol.MethodSearch})
			checkErr(t, err, nil)
			var got map[string]struct {
				Subject string `json:"subject"`
			}
			if err := json.Unmarshal(res, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("%d records, want %d", len(got), tt.want)
			}
			// The first records in $orderby order, not any 5000.
			if last := got[itoa(tt.want-1)].Subject; tt.want == maxRecords && last != "t4999" {
				t.Fatalf("record %d is %q, want t4999", tt.want-1, last)
			}
		})
	}

	// The Web API face pages past the cap: 5000 records, then a nextLink
	// to the remaining 3.
	srv := newWebServer(t, e)
	r := do(t, srv, "GET", api+"tasks?$select=subject&$orderby=subject", "")
	vals, _ := r.body["value"].([]any)
	link, _ := r.body["@odata.nextLink"].(string)
	if r.status != 200 || len(vals) != maxRecords || link == "" {
		t.Fatalf("first page: %d, %d records, nextLink %q", r.status, len(vals), link)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	r = do(t, srv, "GET", u.EscapedPath()+"?"+u.RawQuery, "")
	vals, _ = r.body["value"].([]any)
	if r.status != 200 || len(vals) != n-maxRecords || r.body["@odata.nextLink"] != nil {
		t.Fatalf("second page: %d, %d records, %v", r.status, len(vals), r.body)
	}
	if s := vals[0].(map[string]any)["subject"]; !strings.HasPrefix(fmt.Sprint(s), "t5000") {
		t.Fatalf("second page starts at %v, want t5000", s)
	}
}
