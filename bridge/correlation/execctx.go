package correlation

import (
	"context"
	"sync"
	"time"
)

// execCtx is an attempt's exec context, a part of its entry: it costs no
// allocation and no registration under a lock every attempt shares, where
// context.WithCancelCause(base) cost two allocations and a map insert under
// the base context's mutex. It ends when the attempt ends (the exec
// returned, the late-record window passed, a NoTimeout attempt ended) or the
// table closes (Close cancels every entry it holds).
//
// Err is context.Canceled once it ended; it has no deadline and no values.
// context.Cause of it is its Err (the context package keeps causes for its
// own contexts only); the entry's cause field says why, for this package.
// Contexts derived from it (WithTimeout, AfterFunc) register through its
// AfterFunc method, without a goroutine each.
type execCtx struct {
	mu     sync.Mutex
	done   chan struct{} // made by the first Done; closed when it ends
	err    error
	cause  error
	afters map[*func()]struct{}
}

var _ context.Context = (*execCtx)(nil)

func (c *execCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *execCtx) Value(any) any               { return nil }

func (c *execCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *execCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// AfterFunc runs f in its own goroutine once c ends (at once if it has);
// stop unregisters f, and reports whether it did so before f was started.
// The context package uses it for the contexts derived from c.
func (c *execCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	h := &f
	if c.afters == nil {
		c.afters = map[*func()]struct{}{}
	}
	c.afters[h] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.afters[h]; !ok {
			return false
		}
		delete(c.afters, h)
		return true
	}
}

// cancel ends c; the first cause stays. A nil cause means context.Canceled.
func (c *execCtx) cancel(cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err, c.cause = context.Canceled, cause
	if c.done != nil {
		close(c.done)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for h := range afters {
		go (*h)()
	}
}
