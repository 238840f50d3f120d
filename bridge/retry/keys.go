package retry

import "github.com/cifbridge/cifbridge/bridge/primarykey"

// primaryKey is the primary-key column of entity: Config.Keys' answer,
// else the built-in table's (primarykey.Of).
func (e *Engine) primaryKey(entity string) string {
	if e.cfg.Keys != nil {
		if k, ok := e.cfg.Keys.PrimaryKey(entity); ok && k != "" {
			return k
		}
	}
	return primarykey.Of(entity)
}
