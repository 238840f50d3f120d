//go:build !linux

package loadtest

import "time"

// timerSleeper falls back to the runtime's timers off Linux.
type timerSleeper struct{}

func kernelSleeper() timerSleeper { return timerSleeper{} }

func (timerSleeper) sleep(d time.Duration) { time.Sleep(d) }

func (timerSleeper) release() {}
