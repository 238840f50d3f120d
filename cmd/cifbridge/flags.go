package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlagSet returns a FlagSet whose usage lists every flag with its
// CIFBRIDGE_* environment variable.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: cifbridge %s\n\n%s\n\nFlags (each can also be set with the environment variable shown):\n", name, synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			typ, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(out, "  --%s %s\n", f.Name, typ)
			fmt.Fprintf(out, "      %s\n", strings.ReplaceAll(usage, "\n", "\n      "))
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" && f.DefValue != "[]" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "      env %s%s\n", envName(f.Name), def)
		})
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command line
// from its CIFBRIDGE_* environment variable. It returns the set of flags that
// were set explicitly (by either). --help returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 && fs.Name() != "replay" {
		return nil, usageError{fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
				return
			}
			set[f.Name] = true
		}
	})
	if len(errs) > 0 {
		return nil, usageError{errors.Join(errs...)}
	}
	return set, nil
}
