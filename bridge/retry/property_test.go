package retry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestLedgerMatchesGroundTruth runs many creates under random latencies and
// drops around the CIF timeout and compares the ledger with the emulator's
// records, create by create:
//   - recall 100 %: every create with a timed-out attempt has an entry (with
//     only latency and drop faults, every failed attempt is a timeout);
//   - no entry for a create whose only attempt succeeded;
//   - once the late answers are in, every entry's recordIds is exactly the
//     set of records that create made, confirmed iff there are two or more:
//     confirmed extra records == actual extra records, no false confirmed;
//   - idempotent mode: never more than one record per create.
//
// Each run is a synctest bubble: the latencies, timeouts and late windows
// pass in fake time.
func TestLedgerMatchesGroundTruth(t *testing.T) {
	for _, idempotent := range []bool{false, true} {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("idempotent=%v/seed=%d", idempotent, seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { checkGroundTruth(t, seed, idempotent) })
			})
		}
	}
}

func checkGroundTruth(t *testing.T, seed uint64, idempotent bool) {
	const (
		timeout  = 150 * time.Millisecond
		sessions = 8
		perSess  = 5
	)
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	drop := 0.08
	r := startRig(t, rigOptions{timeout: timeout, lateWindow: 500 * time.Millisecond, faults: &emulator.FaultProfile{
		Seed: int64(seed),
		Rules: []emulator.FaultRule{
			{Method: "createrecord", Drop: true, Ratio: &drop},
			{Method: "createrecord", Latency: &emulator.Dist{Kind: "uniform", MinMs: 20, MaxMs: 320}},
		},
	}})

	type outcome struct {
		label  string
		result protocol.XrmCreateResult
		err    *protocol.Error
		data   protocol.ExhaustedData
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	for s := range sessions {
		c := r.dial()
		delays := make([]int, perSess)
		retries := make([]int, perSess)
		for i := range perSess {
			delays[i], retries[i] = rng.IntN(60), 1+rng.IntN(3)
		}
		wg.Go(func() {
			for i := range perSess {
				label := fmt.Sprintf("lc-%d-%d", s, i)
				res, rep := c.create(map[string]any{"entityLogicalName": "contact", "data": map[string]any{"description": label},
					"maxRetries": retries[i], "delay": delays[i], "idempotent": idempotent})
				o := outcome{label: label, result: res, err: rep.Error}
				if rep.Error != nil {
					if rep.Error.Code != protocol.CodeRetriesExhausted && rep.Error.Code != protocol.CodeTimeout {
						t.Errorf("%s: unexpected error %+v", label, rep.Error)
					}
					json.Unmarshal(rep.Error.Data, &o.data)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.settle(10 * time.Second)

	// Ground truth: the records of each logical create, by its label.
	c := r.dial()
	rep := c.call(protocol.MethodSearch, map[string]any{"entityName": "contact", "queryParameters": "?$select=description"})
	if rep.Error != nil {
		t.Fatal(rep.Error)
	}
	var found map[string]map[string]any
	if err := json.Unmarshal(rep.Result, &found); err != nil {
		t.Fatal(err)
	}
	actual := map[string][]string{}
	for _, rec := range found {
		label, _ := rec["description"].(string)
		actual[label] = append(actual[label], rec["contactid"].(string))
	}

	var flagged, timedOut, confirmed, extraActual, extraConfirmed int
	for _, o := range outcomes {
		ids := actual[o.label]
		sort.Strings(ids)
		if len(ids) > 1 {
			extraActual += len(ids) - 1
		}
		if idempotent && len(ids) > 1 {
			t.Errorf("%s: idempotent create made %d records", o.label, len(ids))
		}
		ledgerID, attempts := o.result.LedgerID, o.result.Attempts
		if o.err != nil {
			ledgerID, attempts = o.data.LedgerID, len(o.data.Attempts)
			if o.err.Code == protocol.CodeTimeout {
				attempts = 1 // a single attempt that timed out
				t.Errorf("%s: a lone timeout must still be -32005 with a ledger entry: %+v", o.label, o.err)
			}
		} else if !slices.Contains(ids, o.result.ID) {
			t.Errorf("%s: result id %s is not among the records %v", o.label, o.result.ID, ids)
		}
		hadTimeout := o.err != nil || attempts > 1
		if hadTimeout {
			timedOut++
		}
		if hadTimeout != (ledgerID != "") {
			t.Errorf("%s: timed out = %v but ledgerId = %q (attempts %d, err %+v)", o.label, hadTimeout, ledgerID, attempts, o.err)
			continue
		}
		if ledgerID == "" {
			if len(ids) != 1 {
				t.Errorf("%s: one clean attempt but %d records", o.label, len(ids))
			}
			continue
		}
		flagged++
		e := r.entry(ledgerID)
		got := slices.Clone(e.RecordIDs)
		sort.Strings(got)
		if !slices.Equal(got, ids) {
			t.Errorf("%s: ledger recordIds %v, emulator has %v (entry %+v)", o.label, got, ids, e)
		}
		switch e.Status {
		case protocol.LedgerConfirmed:
			confirmed++
			extraConfirmed += len(e.RecordIDs) - 1
			if len(ids) < 2 {
				t.Errorf("%s: false confirmed: %d records", o.label, len(ids))
			}
		case protocol.LedgerSuspected:
			t.Errorf("%s: still suspected after every late answer: %+v", o.label, e)
		case protocol.LedgerResolved:
			if !idempotent || len(ids) != 1 {
				t.Errorf("%s: resolved with %d records (idempotent %v)", o.label, len(ids), idempotent)
			}
		case protocol.LedgerCleared, protocol.LedgerExpiredUnknown:
			if len(ids) > 1 {
				t.Errorf("%s: %s but %d records exist", o.label, e.Status, len(ids))
			}
		}
		if len(ids) >= 2 && e.Status != protocol.LedgerConfirmed {
			t.Errorf("%s: %d records but status %s", o.label, len(ids), e.Status)
		}
	}
	if extraConfirmed != extraActual {
		t.Errorf("confirmed extra records %d, emulator extra records %d", extraConfirmed, extraActual)
	}
	if n := r.records("contact"); n != sumLen(actual) {
		t.Errorf("emulator table count %d, found %d", n, sumLen(actual))
	}
	all, _ := r.ledger.List(context.Background(), ledger.Filter{Limit: ledger.MaxLimit})
	if len(all) != flagged {
		t.Errorf("ledger has %d entries, %d creates flagged", len(all), flagged)
	}
	t.Logf("%d creates: %d timed out (all flagged), %d confirmed, %d extra records, %d contacts", len(outcomes), timedOut, confirmed, extraActual, r.records("contact"))
	if timedOut == 0 {
		t.Errorf("the fault profile produced no timeouts: the test proves nothing")
	}
}

func sumLen(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}
