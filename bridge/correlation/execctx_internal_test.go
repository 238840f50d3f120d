package correlation

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// An exec ctx ends once, with its first cause; AfterFunc registers like a
// context's (context.WithTimeout on it uses it), runs each func once when
// the ctx ends (at once when it has ended already), and a stopped one never.
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
