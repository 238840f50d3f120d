package retry

// builtinKeys is DESIGN §1's metadata table: the primary key is not always
// <entity>id (activities use activityid).
var builtinKeys = map[string]string{
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

// BuiltinPrimaryKey is the primary-key column of a built-in table, else
// "<entity>id".
func BuiltinPrimaryKey(entity string) string {
	if k, ok := builtinKeys[entity]; ok {
		return k
	}
	return entity + "id"
}

func (e *Engine) primaryKey(entity string) string {
	if e.cfg.Keys != nil {
		if k, ok := e.cfg.Keys.PrimaryKey(entity); ok && k != "" {
			return k
		}
	}
	return BuiltinPrimaryKey(entity)
}
