//go:build unix

package bridge_test

import "syscall"

// raiseFileLimit lifts the soft RLIMIT_NOFILE towards the hard limit and
// reports whether it holds n descriptors.
func raiseFileLimit(n uint64) bool {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return false
	}
	if rl.Cur < n && rl.Max >= n {
		rl.Cur = n
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur >= n
}
