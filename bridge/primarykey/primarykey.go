// Package primarykey is the one table of built-in Dataverse primary-key
// columns (DESIGN §1): the primary key is not always <entity>id — activities
// use activityid. The emulator's built-in metadata and the retry engine's
// idempotent creates both read it.
package primarykey

// builtin lists the tables whose key is known without metadata.
var builtin = map[string]string{
	"account":     "accountid",
	"contact":     "contactid",
	"incident":    "incidentid",
	"lead":        "leadid",
	"phonecall":   "activityid",
	"task":        "activityid",
	"email":       "activityid",
	"appointment": "activityid",
	"letter":      "activityid",
	"fax":         "activityid",
}

// Of is the primary-key column of a table: the built-in one, else
// "<entity>id" (Dataverse's convention for custom tables).
func Of(entity string) string {
	if k, ok := builtin[entity]; ok {
		return k
	}
	return entity + "id"
}
