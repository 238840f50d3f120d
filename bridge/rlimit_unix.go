//go:build unix

package bridge

import (
	"math"
	"syscall"
)

// defaultMaxConns leaves 64 of the process's file descriptors to the
// daemon's own files and admin requests.
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return 10_000
	}
	return max(int(rl.Cur)-64, 16)
}
