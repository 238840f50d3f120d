package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
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

// secretFlag is a secret given as --NAME (or its CIFBRIDGE_* variable) or in
// the file named by --NAME-file, never both.
type secretFlag struct {
	name        string // the flag's name; the file flag is name+"-file"
	value, file string
}

// register adds --name and --name-file. what names the secret in the usage,
// with its `placeholder`, e.g. "client `secret`".
func (s *secretFlag) register(fs *flag.FlagSet, name, what string) {
	s.name = name
	fs.StringVar(&s.value, name, "", what+" (prefer the environment variable or --"+s.fileFlag()+": flags show in ps)")
	fs.StringVar(&s.file, s.fileFlag(), "", "`file` holding the "+strings.ReplaceAll(what, "`", ""))
}

func (s *secretFlag) fileFlag() string { return s.name + "-file" }

// hint tells where a missing secret goes: "CIFBRIDGE_NAME or --NAME-file".
func (s *secretFlag) hint() string { return envName(s.name) + " or --" + s.fileFlag() }

// read returns the secret ("" when neither flag is set). A secret given on
// the command line rather than in the environment gets a warning: it shows
// in ps.
func (s *secretFlag) read(log zerolog.Logger) (string, error) {
	if s.value != "" && s.file != "" {
		return "", usageError{fmt.Errorf("give --%s or --%s, not both", s.name, s.fileFlag())}
	}
	if s.file != "" {
		b, err := os.ReadFile(filepath.Clean(s.file))
		if err != nil {
			return "", usageError{fmt.Errorf("--%s: %w", s.fileFlag(), err)}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", usageError{fmt.Errorf("--%s %s is empty", s.fileFlag(), s.file)}
		}
		return v, nil
	}
	if s.value != "" && os.Getenv(envName(s.name)) != s.value {
		log.Warn().Str("flag", "--"+s.name).Msg("a secret given as a command-line flag shows in ps: prefer " + envName(s.name) + " or --" + s.fileFlag())
	}
	return s.value, nil
}
