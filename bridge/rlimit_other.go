//go:build !unix

package bridge

// defaultMaxConns is a fixed bound where the open-file limit cannot be read.
func defaultMaxConns() int { return 10_000 }
