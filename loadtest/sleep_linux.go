package loadtest

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// timerfdSleeper sleeps on a Linux timerfd read through the runtime's
// netpoller: the kernel's timer wakes epoll_wait at once (nanosecond
// resolution), the goroutine is parked meanwhile and holds no P. A
// clock_nanosleep would hold its P in a syscall, stranding the senders
// the pacer just woke on it.
type timerfdSleeper struct {
	f   *os.File // nil: the timerfd could not be made; the runtime's timer then
	buf [8]byte
}

func kernelSleeper() *timerfdSleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &timerfdSleeper{}
	}
	return &timerfdSleeper{f: os.NewFile(uintptr(fd), "timerfd")}
}

func (t *timerfdSleeper) sleep(d time.Duration) {
	if t.f == nil {
		time.Sleep(d)
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	if err := unix.TimerfdSettime(int(t.f.Fd()), 0, &spec, nil); err != nil {
		time.Sleep(d)
		return
	}
	_, _ = t.f.Read(t.buf[:]) // the expiration count
}

func (t *timerfdSleeper) release() {
	if t.f != nil {
		t.f.Close()
	}
}
