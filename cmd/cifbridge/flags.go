package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// envPrefixes are the environment prefixes of the subcommands whose flags
// would mean something else under serve's CIFBRIDGE_* names (load's
// --max-inflight is a send cap, serve's a per-session limit). serve and
// healthcheck use CIFBRIDGE_.
var envPrefixes = map[string]string{
	"load":        "CIFBRIDGE_LOAD_",
	"replay":      "CIFBRIDGE_REPLAY_",
	"healthcheck": "CIFBRIDGE_HEALTHCHECK_",
}

// sharedEnv are flags that read serve's variable under another subcommand:
// healthcheck --listen and --tls-cert read CIFBRIDGE_LISTEN and
// CIFBRIDGE_TLS_CERT, so a container's one setting serves both.
var sharedEnv = map[string]map[string]string{
	"healthcheck": {"listen": envName("listen"), "tls-cert": envName("tls-cert")},
}

// commandOf is the subcommand a FlagSet belongs to: the first word of its
// name ("replay [flags] FILE…" → "replay").
func commandOf(fs *flag.FlagSet) string {
	name, _, _ := strings.Cut(fs.Name(), " ")
	return name
}

// flagEnv is the environment variable that fills a flag of fs.
func flagEnv(fs *flag.FlagSet, name string) string {
	cmd := commandOf(fs)
	if v, ok := sharedEnv[cmd][name]; ok {
		return v
	}
	prefix, ok := envPrefixes[cmd]
	if !ok {
		prefix = "CIFBRIDGE_"
	}
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// newFlagSet returns a FlagSet for subcommand name (with its synopsis,
// e.g. "replay [flags] FILE…") whose --help goes to stdout and lists every
// flag with its environment variable. Parse errors print nothing: parseFlags
// turns them into one usage error.
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: cifbridge %s\n\n%s\n\n", name, synopsis)
		fmt.Fprintf(stdout, "Flags (each can also be set with the environment variable shown, %s<FLAG>; a flag on the command line wins):\n", flagEnv(fs, ""))
		fs.VisitAll(func(f *flag.Flag) {
			typ, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(stdout, "  --%s %s\n", f.Name, typ)
			fmt.Fprintf(stdout, "      %s\n", strings.ReplaceAll(usage, "\n", "\n      "))
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" && f.DefValue != "[]" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(stdout, "      env %s%s\n", flagEnv(fs, f.Name), def)
		})
		if !strings.Contains(synopsis, "Exit status") {
			fmt.Fprintf(stdout, "\nExit status: 0 success, 1 failure, 2 bad input (flags, files, values).\n")
		}
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command line
// from its environment variable (flagEnv). It returns the set of flags that
// were set explicitly (by either). --help prints the usage to the FlagSet's
// stdout and returns flag.ErrHelp; a bad flag or value is a usageError that
// names the flag with -- and shows a valid value.
func parseFlags(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	// Package flag prints the usage on every parse error; only --help gets it.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return nil, err
		}
		return nil, usageError{flagError(fs, err)}
	}
	if fs.NArg() > 0 && commandOf(fs) != "replay" {
		return nil, usageError{fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := flagEnv(fs, f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q (--%s) is not a valid %s: %v; set it like %s=%s",
					env, v, f.Name, typeName(f), reason(err.Error()), env, example(f)))
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

// The errors of package flag, which name flags with one dash.
var (
	reUnknown  = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	reNeedsArg = regexp.MustCompile(`^flag needs an argument: -+(.+)$`)
	reInvalid  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]+): (.*)$`)
	reSyntax   = regexp.MustCompile(`^bad flag syntax: (.*)$`)
)

// flagError rewrites an error of fs.Parse for people: flags with --, and
// what a valid value looks like.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if m := reUnknown.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("unknown flag --%s", m[1])
	}
	if m := reNeedsArg.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[1]); f != nil {
			return fmt.Errorf("--%s needs a value, e.g. --%s %s", f.Name, f.Name, example(f))
		}
		return fmt.Errorf("--%s needs a value", m[1])
	}
	if m := reInvalid.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[2]); f != nil {
			use := fmt.Sprintf("--%s %s", f.Name, example(f))
			if isBool(f) {
				use = fmt.Sprintf("--%s or --%s=false", f.Name, f.Name)
			}
			return fmt.Errorf("--%s %q is not a valid %s: %s; use it like %s", f.Name, m[1], typeName(f), reason(m[3]), use)
		}
	}
	if m := reSyntax.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("bad flag syntax %q: flags look like --name value or --name=value", m[1])
	}
	return err
}

// reason is the cause in an error of flag.Value.Set, without package
// flag's generic wording.
func reason(msg string) string {
	switch msg {
	case "parse error":
		return "cannot parse it"
	case "value out of range":
		return "out of range"
	default:
		return msg
	}
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// kindOf names the kind of value a typed flag takes, with a typical valid
// value; ok is false for other flags (strings, lists).
func kindOf(f *flag.Flag) (name, example string, ok bool) {
	g, isGetter := f.Value.(flag.Getter)
	if !isGetter {
		return "", "", false
	}
	switch g.Get().(type) {
	case time.Duration:
		return "duration", "10s", true
	case int, int64, uint, uint64:
		return "integer", "1", true
	case float64:
		return "number", "100", true
	case bool:
		return "boolean (true or false)", "true", true
	}
	return "", "", false
}

// typeName names the kind of value a flag takes: "duration", "integer", …
func typeName(f *flag.Flag) string {
	if name, _, ok := kindOf(f); ok {
		return name
	}
	if typ, _ := flag.UnquoteUsage(f); typ != "" {
		return typ
	}
	return "value"
}

// example is a valid value of a flag, for messages: its default when that
// says something, else a typical one of its kind.
func example(f *flag.Flag) string {
	if def := f.DefValue; def != "" && def != "0" && def != "0s" && def != "[]" {
		return def
	}
	if _, ex, ok := kindOf(f); ok {
		return ex
	}
	if typ, _ := flag.UnquoteUsage(f); typ != "" && typ != "string" && typ != "value" {
		return strings.ToUpper(typ)
	}
	return "VALUE"
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
