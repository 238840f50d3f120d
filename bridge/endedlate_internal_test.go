package bridge

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestEndedLateKeepsTheNewest: past endedLateMax the oldest records go; the
// list is newest first, and each outcome is told apart.
func TestEndedLateKeepsTheNewest(t *testing.T) {
	var r endedLate
	if l := r.list(); l == nil || len(l) != 0 {
		t.Fatalf("empty list %#v", l)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	total := endedLateMax + 7
	for i := range total {
		var info correlation.Info // fields set one by one: the attempt's may be embedded
		info.ID, info.Session, info.Method, info.State = fmt.Sprint("a", i), "s", protocol.MethodCreateRecord, "timedout"
		l := correlation.Late{Info: info, LateBy: time.Duration(i) * time.Millisecond}
		switch i % 3 {
		case 1:
			l.Err = &protocol.Error{Code: protocol.CodeBackend, Message: "boom"}
		case 2:
			l.Expired, l.Err = true, errors.New("context deadline exceeded")
		}
		r.add(l, at)
	}
	got := r.list()
	if len(got) != endedLateMax {
		t.Fatalf("%d records kept, want %d", len(got), endedLateMax)
	}
	for k, e := range got {
		i := total - 1 - k
		want := []string{protocol.OutcomeSuccess, protocol.OutcomeFailure, protocol.OutcomeExpired}[i%3]
		if e.AttemptID != fmt.Sprint("a", i) || e.LateByMs != int64(i) || e.Outcome != want || !e.At.Equal(at) {
			t.Fatalf("list[%d] = %+v, want attempt a%d, lateByMs %d, %s", k, e, i, i, want)
		}
		if (e.Error != nil) != (want == protocol.OutcomeFailure) {
			t.Fatalf("list[%d] error %+v for outcome %s", k, e.Error, want)
		}
	}
}
