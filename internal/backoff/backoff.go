// Package backoff retries an operation that fails while something it needs
// is not ready yet (a JetStream cluster electing its leaders, a quorum
// still forming): each try bounded by its own timeout, a pause between
// tries that doubles up to a ceiling, until the operation succeeds, fails
// for a reason retrying cannot cure, a total time passes or the context
// ends.
//
// The entry point is Retry.Do.
package backoff

import (
	"cmp"
	"context"
	"time"
)

// Retry is how Do retries. The zero value of each field means its default;
// the zero Retry retries every 100 ms, each try bounded only by ctx, until
// ctx ends.
type Retry struct {
	// Try bounds one try: op's context ends after it. Default: only the
	// context given to Do.
	Try time.Duration
	// Pause is the wait after the first failed try; it doubles after each
	// further one, up to MaxPause. Default 100 ms.
	Pause time.Duration
	// MaxPause is the longest pause. Default Pause (a constant pause).
	MaxPause time.Duration
	// GiveUp is how long Do keeps trying before it returns the last
	// failure. Default: until the context ends.
	GiveUp time.Duration
	// Final reports a failure that retrying cannot cure: Do returns it at
	// once. Default: every failure is retried.
	Final func(error) bool
	// OnFail is told of every failed try that will be retried (tries count
	// from 1), before the pause, to record or log it. Default: nothing.
	OnFail func(err error, try int)
}

// Do runs op until it returns nil, then returns nil. It returns op's last
// failure when Final says so, when GiveUp has passed, or when ctx ended
// during that try; ctx's error when ctx ends during a pause.
func (r Retry) Do(ctx context.Context, op func(context.Context) error) error {
	pause := cmp.Or(r.Pause, 100*time.Millisecond)
	maxPause := max(r.MaxPause, pause)
	var deadline time.Time
	if r.GiveUp > 0 {
		deadline = time.Now().Add(r.GiveUp)
	}
	for try := 1; ; try++ {
		err := r.once(ctx, op)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || r.Final != nil && r.Final(err) || !deadline.IsZero() && time.Now().After(deadline) {
			return err
		}
		if r.OnFail != nil {
			r.OnFail(err, try)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, maxPause)
	}
}

// once runs op one time, bounded by r.Try.
func (r Retry) once(ctx context.Context, op func(context.Context) error) error {
	if r.Try <= 0 {
		return op(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, r.Try)
	defer cancel()
	return op(tctx)
}
