package ledger

import "time"

// SetClock makes l read the time from now (tests: distinct, ordered
// timestamps without sleeping).
func SetClock(l *Ledger, now func() time.Time) { l.now = now }
