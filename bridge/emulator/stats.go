package emulator

import (
	"sync"
	"sync/atomic"

	"github.com/cifbridge/cifbridge/protocol"
)

// counters are the operation counters, under their own mutex.
type counters struct {
	mu                                                    sync.Mutex
	ops                                                   map[string]int64 // messageTypes not in opIndex
	late, faultsApplied, delayed, injectedErrors, dropped int64
	evictedMisses                                         map[string]int64 // per logical name (notFoundLocked)

	// opCount counts the operations of each messageType of opIndex, not
	// under mu: every call adds one (set by New).
	opCount []atomic.Int64
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.opCount {
		c.opCount[i].Store(0)
	}
	c.ops, c.evictedMisses = nil, nil
	c.late, c.faultsApplied, c.delayed, c.injectedErrors, c.dropped = 0, 0, 0, 0, 0
}

func (c *counters) add(f func(c *counters)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = map[string]int64{}
	}
	if c.evictedMisses == nil {
		c.evictedMisses = map[string]int64{}
	}
	f(c)
}

// Stats returns a snapshot of the ground-truth counters.
func (e *Emulator) Stats() protocol.EmulatorStats {
	s := protocol.EmulatorStats{Tables: map[string]protocol.EmulatorTableStats{}, Operations: map[string]int64{}}
	e.mu.RLock()
	s.MaxRecords = max(e.store.max, 0)
	for _, name := range e.cat.names {
		s.Tables[name] = protocol.EmulatorTableStats{Records: e.store.tables[name].len(), Evicted: e.store.evicted[name]}
	}
	e.mu.RUnlock()
	e.stats.mu.Lock()
	defer e.stats.mu.Unlock()
	for k, v := range e.stats.ops {
		s.Operations[k] = v
	}
	for k, i := range opIndex {
		if v := e.stats.opCount[i].Load(); v != 0 {
			s.Operations[k] = v
		}
	}
	for name, n := range e.stats.evictedMisses {
		if t, ok := s.Tables[name]; ok {
			t.EvictedMisses = n
			s.Tables[name] = t
		}
	}
	s.LateCompletions = e.stats.late
	s.FaultsApplied = e.stats.faultsApplied
	s.Delayed = e.stats.delayed
	s.InjectedErrors = e.stats.injectedErrors
	s.Dropped = e.stats.dropped
	return s
}
