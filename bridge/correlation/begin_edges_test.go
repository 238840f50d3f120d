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

// A begin that panics leaves nothing behind in the table: it runs before
// the attempt is registered, so no entry stays in flight, no deadline on
// the heap, and Close does not wait for an exec that will never end. (The
// panic goes on to DoBegin's caller: rpcconn.Conn recovers it and answers
// the call with -32603. This pins that it then finds the table as it was.)
func TestDoBeginPanicLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lates := 0
		tab := correlation.New(correlation.Config{OnLate: func(correlation.Late) { lates++ }})
		func() {
			defer func() {
				if recover() == nil {
					t.Error("begin's panic did not reach DoBegin's caller")
				}
			}()
			tab.DoBegin(t.Context(), correlation.Attempt{Session: "s1", Timeout: time.Second},
				func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
					panic("backend bug")
				})
		}()
		if st := tab.Stats(); st.InFlight != 0 || st.Late != 0 || st.Timeouts != 0 {
			t.Fatalf("after a panicking begin: %+v, want an empty table", st)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := tab.Stats(); st.Timeouts != 0 || lates != 0 {
			t.Fatalf("an hour later: %+v, %d late reports; want no timeout and no report", st, lates)
		}
		closed := make(chan error, 1)
		go func() { closed <- tab.Close(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("Close waits for the attempt whose begin panicked")
		}
	})
}

// The caller's ctx ending while begin answers at once (its widget went
// away, or the shutdown cancelled its requests) changes nothing: the
// answer came in time and is DoBegin's, not an abandoned late record. (Do,
// whose exec runs apart, may pick either when both are ready.)
func TestDoBeginCallerGoneDuringAtOnceAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lates := 0
		tab := correlation.New(correlation.Config{OnLate: func(correlation.Late) { lates++ }})
		ctx, cancel := context.WithCancel(t.Context())
		res, sent, err := tab.DoBegin(ctx, correlation.Attempt{Session: "s1", Timeout: 10 * time.Second},
			func(context.Context, *correlation.Attempt) (json.RawMessage, error, correlation.Exec) {
				cancel()
				return json.RawMessage(`{"id":"1"}`), nil, nil
			})
		if err != nil || string(res) != `{"id":"1"}` || sent.Late {
			t.Fatalf("DoBegin = %s, %+v, %v; want the answer, not late", res, sent, err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := tab.Stats(); st.InFlight != 0 || st.Late != 0 || st.Abandoned != 0 || lates != 0 {
			t.Fatalf("stats %+v, %d late reports; want nothing abandoned or reported", st, lates)
		}
	})
}

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
