package rpcconn

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestReadLockExcludes: goroutines that take the lock in turn never hold it
// together, and none is left waiting (a lost wake-up would hang the test).
// Run with -race: the unguarded counter is the shared state.
func TestReadLockExcludes(t *testing.T) {
	l := newReadLock()
	var (
		wg      sync.WaitGroup
		holders int
		total   int
	)
	for range 8 {
		wg.Go(func() {
			for range 2000 {
				l.lock()
				holders++
				if holders != 1 {
					t.Errorf("%d holders at once", holders)
				}
				total++
				holders--
				l.unlock()
			}
		})
	}
	wg.Wait()
	if total != 8*2000 {
		t.Fatalf("total = %d, want %d", total, 8*2000)
	}
}

// TestReadLockWaiterLetsTheClockRun: a goroutine waiting for the lock is
// durably blocked in a synctest bubble (the close handshake's 5 s wait
// must run while the reader holds the lock), and takes it once released.
func TestReadLockWaiterLetsTheClockRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newReadLock()
		l.lock()
		got := make(chan time.Time, 1)
		go func() {
			l.lock()
			got <- time.Now()
			l.unlock()
		}()
		start := time.Now()
		synctest.Wait() // the waiter is durably blocked
		time.Sleep(5 * time.Second)
		l.unlock()
		if at := <-got; at.Sub(start) != 5*time.Second {
			t.Fatalf("the waiter took the lock %v after the start, want 5s", at.Sub(start))
		}
		l.lock() // free again, and its leftover wake-up is harmless
		l.unlock()
	})
}
