// Package periodic runs a daemon's housekeeping on a fixed period: a
// ticker, stopped when its context ends.
//
// The entry point is Every.
package periodic

import (
	"context"
	"time"
)

// Every calls f once every interval (the first call one interval from now)
// until ctx ends, then returns. A call that outlasts the interval is
// followed at once by one more (the ticker keeps one tick), not by a burst
// catching up every tick missed; then the period goes on as before.
func Every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
