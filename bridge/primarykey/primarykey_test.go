package primarykey_test

import (
	"testing"

	"github.com/cifbridge/cifbridge/bridge/primarykey"
)

func TestOf(t *testing.T) {
	for entity, want := range map[string]string{"account": "accountid", "contact": "contactid", "incident": "incidentid",
		"lead": "leadid", "phonecall": "activityid", "task": "activityid", "email": "activityid", "new_call": "new_callid"} {
		if got := primarykey.Of(entity); got != want {
			t.Errorf("%s: %s, want %s", entity, got, want)
		}
	}
}
