// Package recovered turns a panic recovered at a call's boundary into an
// error that carries where it happened, so one call's bug answers that call
// with an internal error (-32603) and a log line with the stack, instead of
// ending the daemon and every session it serves.
package recovered

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// maxStack bounds the stack kept with an error: enough for the frames that
// matter, never an unbounded log line.
const maxStack = 8 << 10

// Panic is a recovered panic: its value and the stack of the goroutine
// that panicked, cut to 8 KiB.
type Panic struct {
	Value any
	Stack string
}

// maxValue bounds the panic's value in Error: it may hold what a peer sent.
const maxValue = 1 << 10

func (p *Panic) Error() string {
	v := fmt.Sprint(p.Value)
	if len(v) > maxValue {
		v = strings.ToValidUTF8(v[:maxValue], "") + "…"
	}
	return "panic: " + v
}

// Unwrap gives the panic's value when it was an error.
func (p *Panic) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// Error returns the error for v, a value recover returned (nil for nil).
// Call it in the deferred function that recovered, so the stack is the
// panicking goroutine's.
func Error(v any) error {
	if v == nil {
		return nil
	}
	s := debug.Stack()
	if len(s) > maxStack {
		s = append(s[:maxStack:maxStack], "\n…"...)
	}
	return &Panic{Value: v, Stack: string(s)}
}

// Stack returns the stack of a recovered panic somewhere in err's chain,
// and "" when err is not one.
func Stack(err error) string {
	var p *Panic
	if errors.As(err, &p) {
		return p.Stack
	}
	return ""
}
