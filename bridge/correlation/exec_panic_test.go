package correlation_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/internal/recovered"
	"github.com/cifbridge/cifbridge/protocol"
)

// An exec that panics runs on a goroutine of the table's, where nothing
// else could recover it: the panic becomes the attempt's error (an
// internal error carrying the stack), in time or late, and the table ends
// the attempt as for any other error, so the process and every other
// attempt go on and Close does not wait for it.
func TestExecPanicIsTheAttemptsError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lates []correlation.Late
		tab := correlation.New(correlation.Config{OnLate: func(l correlation.Late) { lates = append(lates, l) }})
		boom := func(context.Context, *correlation.Attempt) (json.RawMessage, error) {
			var m map[string]int
			m["x"]++ // a real runtime panic: assignment to a nil map
			return nil, nil
		}
		_, _, err := tab.Do(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second}, boom)
		if err == nil || protocol.AsError(err).Code != protocol.CodeInternal {
			t.Fatalf("Do's error = %v, want an internal error", err)
		}
		if st := recovered.Stack(err); !strings.Contains(st, "TestExecPanicIsTheAttemptsError") {
			t.Fatalf("the error does not carry the panicking exec's stack:\n%s", st)
		}

		// Past the deadline: the timeout answers, the panic is the late failure.
		slowBoom := func(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
			time.Sleep(2 * time.Second)
			return boom(ctx, a)
		}
		_, _, err = tab.Do(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second}, slowBoom)
		if protocol.AsError(err).Code != protocol.CodeTimeout {
			t.Fatalf("Do's error = %v, want the CIF timeout", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(lates) != 1 || lates[0].Err == nil || recovered.Stack(lates[0].Err) == "" {
			t.Fatalf("late reports %+v, want one failure carrying the panic", lates)
		}
		if st := tab.Stats(); st.InFlight != 0 {
			t.Fatalf("after two panicking execs: %+v, want nothing in flight", st)
		}
		if err := tab.Close(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}
