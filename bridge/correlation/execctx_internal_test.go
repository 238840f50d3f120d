package correlation

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestExecCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		why := errors.New("why")
		c := &execCtx{}
		early := c.Done()
		child, cancelChild := context.WithTimeout(c, time.Hour) // registers through AfterFunc
		defer cancelChild()
		ran, stopped := 0, 0
		stop := c.AfterFunc(func() { stopped++ })
		c.AfterFunc(func() { ran++ })
		if !stop() || stop() {
			t.Fatal("stop: want true once, then false")
		}
		if c.Err() != nil || child.Err() != nil {
			t.Fatal("ended before cancel")
		}
		c.cancel(why)
		c.cancel(errors.New("second")) // the first cause stays
		<-early
		<-c.Done()
		<-child.Done()
		synctest.Wait()
		if c.Err() != context.Canceled || c.cause != why || !errors.Is(child.Err(), context.Canceled) {
			t.Errorf("err %v cause %v child %v", c.Err(), c.cause, child.Err())
		}
		if ran != 1 || stopped != 0 {
			t.Errorf("after funcs: ran %d, stopped one ran %d; want 1 and 0", ran, stopped)
		}
		late := 0
		if c.AfterFunc(func() { late++ })() {
			t.Error("stop after the end reported true")
		}
		synctest.Wait()
		if late != 1 {
			t.Error("AfterFunc on an ended context did not run")
		}
		var nilCause execCtx
		nilCause.cancel(nil)
		if nilCause.cause != context.Canceled {
			t.Errorf("nil cause became %v, want context.Canceled", nilCause.cause)
		}
	})
}

// TestCloseEndsExecContexts: Close ends the exec ctx of attempts in flight
// and of late records, and Do refuses attempts after it.
func TestCloseEndsExecContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := New(Config{LateWindow: time.Hour})
		ended := make(chan error, 2)
		exec := func(ctx context.Context, _ *Attempt) (json.RawMessage, error) {
			<-ctx.Done()
			ended <- ctx.Err()
			return nil, ctx.Err()
		}
		go tab.Do(context.Background(), Attempt{Method: "m", Timeout: time.Minute}, exec)
		go tab.Do(context.Background(), Attempt{Method: "m", Timeout: time.Second}, exec)
		time.Sleep(2 * time.Second) // the second one is a late record now
		synctest.Wait()
		if s := tab.Stats(); s.InFlight != 1 || s.Late != 1 {
			t.Fatalf("stats %+v, want 1 in flight and 1 late", s)
		}
		before := time.Now()
		if err := tab.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(before); waited != 0 {
			t.Errorf("Close returned after %v: it waited for a deadline instead of ending the exec contexts", waited)
		}
		for range 2 {
			if err := <-ended; err != context.Canceled {
				t.Errorf("exec ctx ended with %v", err)
			}
		}
		if _, _, err := tab.Do(context.Background(), Attempt{Method: "m", Timeout: time.Second}, func(context.Context, *Attempt) (json.RawMessage, error) { return nil, nil }); err == nil {
			t.Error("Do after Close ran")
		}
	})
}
