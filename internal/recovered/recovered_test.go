package recovered

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func boom(v any) (err error) {
	defer func() { err = Error(recover()) }()
	panic(v)
}

func TestErrorCarriesValueAndStack(t *testing.T) {
	err := boom("index out of range")
	if err == nil || err.Error() != "panic: index out of range" {
		t.Fatalf("err = %v", err)
	}
	st := Stack(err)
	if !strings.Contains(st, "recovered.boom") {
		t.Fatalf("stack does not name the panicking function:\n%s", st)
	}
	if Stack(io.EOF) != "" {
		t.Fatal("a plain error has no stack")
	}
	if !errors.Is(boom(io.ErrUnexpectedEOF), io.ErrUnexpectedEOF) {
		t.Fatal("a panic with an error value does not unwrap to it")
	}
	if Error(nil) != nil {
		t.Fatal("Error(nil) is not nil: a call that did not panic would fail")
	}
}

func TestStackAndValueAreBounded(t *testing.T) {
	var deep func(n int) error
	deep = func(n int) (err error) {
		if n == 0 {
			return boom("deep")
		}
		return deep(n - 1)
	}
	if st := Stack(deep(2000)); len(st) > maxStack+8 {
		t.Fatalf("stack of %d bytes, want at most %d", len(st), maxStack)
	}
	if msg := boom(strings.Repeat("é", maxValue)).Error(); len(msg) > len("panic: ")+maxValue+len("…") || !strings.HasSuffix(msg, "…") {
		t.Fatalf("a long panic value gave a message of %d bytes, want it cut at %d", len(msg), maxValue)
	}
}
