package emulator

import "sync"

// Stats is the emulator's ground truth for tests and load reports.
type Stats struct {
	// Tables counts records per logical name (every known entity).
	Tables map[string]TableStats `json:"tables"`
	// Operations counts operations that reached the store, per CIF
	// messageType ("createrecord", "execute", …), including those that
	// failed with a Dataverse error, excluding injected errors and drops.
	Operations map[string]int64 `json:"operations"`
	// LateCompletions counts answers given after their call's CIF deadline:
	// operations that completed, and injected errors (each is a late answer
	// the bridge reports with bridge.late). Drops never answer.
	LateCompletions int64 `json:"lateCompletions"`
	// FaultsApplied counts operations a fault rule applied to.
	FaultsApplied int64 `json:"faultsApplied"`
	// Delayed counts operations given injected latency.
	Delayed int64 `json:"delayed"`
	// InjectedErrors counts injected error answers.
	InjectedErrors int64 `json:"injectedErrors"`
	// Dropped counts dropped requests.
	Dropped int64 `json:"dropped"`
	// MaxRecords is the record bound (Config.MaxRecords; 0: none). A load
	// tool sizes the ids it keeps picking so that they stay within it.
	MaxRecords int `json:"maxRecords"`
}

// TableStats describes one table.
type TableStats struct {
	Records int `json:"records"`
	// Evicted counts records dropped to keep the store within its bound
	// (Config.MaxRecords): Records + Evicted is what creates left behind.
	Evicted int64 `json:"evicted"`
}

// counters are the operation counters, under their own mutex.
type counters struct {
	mu                                                    sync.Mutex
	ops                                                   map[string]int64
	late, faultsApplied, delayed, injectedErrors, dropped int64
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = nil
	c.late, c.faultsApplied, c.delayed, c.injectedErrors, c.dropped = 0, 0, 0, 0, 0
}

func (c *counters) add(f func(c *counters)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = map[string]int64{}
	}
	f(c)
}

// Stats returns a snapshot of the ground-truth counters.
func (e *Emulator) Stats() Stats {
	s := Stats{Tables: map[string]TableStats{}, Operations: map[string]int64{}}
	e.mu.RLock()
	s.MaxRecords = max(e.store.max, 0)
	for _, name := range e.cat.names {
		s.Tables[name] = TableStats{Records: len(e.store.tables[name]), Evicted: e.store.evicted[name]}
	}
	e.mu.RUnlock()
	e.stats.mu.Lock()
	defer e.stats.mu.Unlock()
	for k, v := range e.stats.ops {
		s.Operations[k] = v
	}
	s.LateCompletions = e.stats.late
	s.FaultsApplied = e.stats.faultsApplied
	s.Delayed = e.stats.delayed
	s.InjectedErrors = e.stats.injectedErrors
	s.Dropped = e.stats.dropped
	return s
}
