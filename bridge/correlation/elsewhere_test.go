package correlation_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// An exec that returns ErrElsewhere after the deadline (another node of
// the cluster delivers the late answer) ends the late record without the
// table-wide OnLate (no bridge.late here); the attempt's own OnLate hears
// Elsewhere. Has follows the attempt from in flight to gone.
func TestLateAnswerDeliveredElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var tableLate, ownLate []correlation.Late
		tbl := correlation.New(correlation.Config{LateWindow: time.Minute, OnLate: func(l correlation.Late) {
			mu.Lock()
			tableLate = append(tableLate, l)
			mu.Unlock()
		}})
		defer tbl.Close(context.Background())
		a := correlation.Attempt{ID: "at-x", Session: "s", Method: "cif.createrecord", Timeout: time.Second, OnLate: func(l correlation.Late) {
			mu.Lock()
			ownLate = append(ownLate, l)
			mu.Unlock()
		}}
		release := make(chan struct{})
		exec := func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			<-release
			return nil, correlation.ErrElsewhere
		}
		_, sent, err := tbl.Do(context.Background(), a, exec)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeTimeout || !sent.Late {
			t.Fatalf("Do: %v %+v, want a -32000 and a late record", err, sent)
		}
		if !tbl.Has("at-x") {
			t.Fatal("Has: the late record is not there")
		}
		time.Sleep(2 * time.Second)
		close(release)
		synctest.Wait()
		if tbl.Has("at-x") {
			t.Fatal("Has: the late record outlived its answer")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(tableLate) != 0 {
			t.Fatalf("table-wide OnLate called: %+v", tableLate)
		}
		if len(ownLate) != 1 || !ownLate[0].Elsewhere || ownLate[0].Info.ID != "at-x" {
			t.Fatalf("attempt's OnLate: %+v, want one Elsewhere", ownLate)
		}
		if st := tbl.Stats(); st.Late != 0 {
			t.Fatalf("stats after: %+v", st)
		}
	})
}
