package emulator_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
)

// functionsSeed is a fixed seed for the query-function table: tasks due at
// known times around the emulator's fixed clock (2026-06-15 12:00 UTC).
const functionsSeed = `{
  "task": [
    {"activityid": "00000000-0000-4000-8000-000000000001", "subject": "t1 last year", "scheduledend": "2025-03-01T09:00:00Z", "percentcomplete": 10},
    {"activityid": "00000000-0000-4000-8000-000000000002", "subject": "t2 last month", "scheduledend": "2026-05-20T09:00:00Z", "percentcomplete": 50},
    {"activityid": "00000000-0000-4000-8000-000000000003", "subject": "t3 three days ago", "scheduledend": "2026-06-12T08:00:00Z", "percentcomplete": 75},
    {"activityid": "00000000-0000-4000-8000-000000000004", "subject": "t4 yesterday", "scheduledend": "2026-06-14T23:00:00Z", "percentcomplete": 100},
    {"activityid": "00000000-0000-4000-8000-000000000005", "subject": "t5 today", "scheduledend": "2026-06-15T07:30:00Z", "percentcomplete": 0},
    {"activityid": "00000000-0000-4000-8000-000000000006", "subject": "t6 tomorrow", "scheduledend": "2026-06-16T10:00:00Z"},
    {"activityid": "00000000-0000-4000-8000-000000000007", "subject": "t7 next year", "scheduledend": "2027-01-05T10:00:00Z", "percentcomplete": 20}
  ]
}`

var functionsNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func newFunctionsEmulator(t testing.TB) *emulator.Emulator {
	t.Helper()
	e := newEmulator(t, emulator.Config{Seed: []byte(functionsSeed), Now: func() time.Time { return functionsNow }})
	return e
}

// TestFilterFunctions: Dataverse query functions, date-time and GUID
// literals, with the rows expected from the fixed seed, through the Web API
// face and through cif.search alike.
func TestFilterFunctions(t *testing.T) {
	e := newFunctionsEmulator(t)
	srv := newWebServer(t, e)
	who := do(t, srv, "GET", "/api/data/v9.2/WhoAmI", "").body["UserId"].(string)
	const f = "Microsoft.Dynamics.CRM."
	tests := []struct {
		filter string
		want   string // task numbers in subject order
	}{
		{f + "Today(PropertyName='scheduledend')", "5"},
		{f + "Yesterday(PropertyName='scheduledend')", "4"},
		{f + "Tomorrow(PropertyName='scheduledend')", "6"},
		{f + "LastXDays(PropertyName='scheduledend',PropertyValue=3)", "345"},
		{f + "NextXDays(PropertyName='scheduledend',PropertyValue=1)", "6"},
		{f + "LastXHours(PropertyName='scheduledend',PropertyValue=13)", "45"},
		{f + "ThisMonth(PropertyName='scheduledend')", "3456"},
		{f + "LastMonth(PropertyName='scheduledend')", "2"},
		{f + "ThisYear(PropertyName='scheduledend')", "23456"},
		{f + "LastYear(PropertyName='scheduledend')", "1"},
		{f + "NextYear(PropertyName='scheduledend')", "7"},
		{f + "OlderThanXDays(PropertyName='scheduledend',PropertyValue=30)", "1"},
		{f + "On(PropertyName='scheduledend',PropertyValue='2026-06-12')", "3"},
		{f + "NotOn(PropertyName='scheduledend',PropertyValue='2026-06-12')", "124567"},
		{f + "OnOrAfter(PropertyName='scheduledend',PropertyValue='2026-06-15')", "567"},
		{f + "OnOrBefore(PropertyName='scheduledend',PropertyValue='2026-06-12')", "123"},
		{f + `In(PropertyName='percentcomplete',PropertyValues=["10","100"])`, "14"},
		{f + "In(PropertyName='subject',PropertyValues=['T5 TODAY','t6 tomorrow'])", "56"},
		{f + `NotIn(PropertyName='percentcomplete',PropertyValues=["10","100"])`, "2357"},
		{f + `Between(PropertyName='percentcomplete',PropertyValues=["20","75"])`, "237"},
		{f + `NotBetween(PropertyName='percentcomplete',PropertyValues=["20","75"])`, "145"},
		{f + "EqualUserId(PropertyName='ownerid')", "1234567"},
		{f + "NotEqualUserId(PropertyName='ownerid')", ""},
		{"scheduledend gt 2026-06-14T22:00:00Z and scheduledend lt 2026-06-16", "45"},
		{"scheduledend ge 2027-01-01", "7"},
		{"activityid eq 00000000-0000-4000-8000-000000000003", "3"},
		{"_ownerid_value eq " + who + " and percentcomplete ge 75", "34"},
		{"not " + f + "Today(PropertyName='scheduledend') and " + f + "ThisMonth(PropertyName='scheduledend')", "346"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			qs := "$select=subject&$orderby=subject&$filter="
			checkBothFaces(t, e, srv, "tasks?"+qs+url.QueryEscape(tt.filter), "task", "?"+qs+tt.filter, []string{"subject"}, taskRows(tt.want))
		})
	}
}

// taskRows renders the tasks of functionsSeed numbered in nums ("345": the
// third, fourth and fifth) as rowsOf renders them over subject.
func taskRows(nums string) string {
	var seed struct{ Task []struct{ Subject string } }
	if err := json.Unmarshal([]byte(functionsSeed), &seed); err != nil {
		panic(err)
	}
	var rows []string
	for _, n := range nums {
		rows = append(rows, "subject="+seed.Task[n-'1'].Subject)
	}
	return strings.Join(rows, ";")
}

// TestFilterRefusals: what the filter language does not implement is
// refused by name.
func TestFilterRefusals(t *testing.T) {
	srv := newWebServer(t, newFunctionsEmulator(t))
	const f = "Microsoft.Dynamics.CRM."
	for filter, want := range map[string]string{
		f + "Under(PropertyName='accountid',PropertyValue='00000000-0000-4000-8000-000000000001')": "the emulator models no hierarchy",
		f + "ContainValues(PropertyName='x',PropertyValues=['1'])":                                 "does not implement the query function 'Microsoft.Dynamics.CRM.ContainValues'",
		"regardingobjectid_contact_task/parentcustomerid_account/name eq 'Ada'":                    "lookup paths deeper than one level",
		"regardingobjectid_contact_task/nope eq 'Ada'":                                             "Could not find a property named 'nope'",
		"task_activity_parties/any(p:p/participationtypemask eq 1)":                                "Could not find a property named 'task_activity_parties'",
		f + "LastXDays(PropertyName='scheduledend')":                                               "needs PropertyValue",
		f + "LastXDays(PropertyName='nope',PropertyValue=3)":                                       "Could not find a property named 'nope'",
		f + "In(PropertyName='subject',PropertyValues=[])":                                         "at least one value",
		f + "On(PropertyName='scheduledend',PropertyValue=5)":                                      "a date like",
	} {
		r := do(t, srv, "GET", "/api/data/v9.2/tasks?$filter="+url.QueryEscape(filter), "")
		if r.status != 400 || !strings.Contains(errMsg(r), want) {
			t.Errorf("%s: %d %v, want 400 naming %q", filter, r.status, r.body, want)
		}
	}
}
