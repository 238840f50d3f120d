// Command cifbridge is the CIF-over-WebSocket bridge daemon and its tools.
//
//	cifbridge serve        run the daemon (embedded Dataverse emulator by default)
//	cifbridge healthcheck  exit 0 when a running daemon is ready (for Docker)
//	cifbridge version      print the version
//
// main only wires the process to run, which tests call directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one subcommand. Each lives in its own file, with its own
// FlagSet; commands lists them all.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands are cifbridge's subcommands, by name.
var commands = map[string]command{
	"healthcheck": {summary: "exit 0 when the daemon at --listen is ready (Docker HEALTHCHECK)", run: runHealthcheck},
	"load":        {summary: "drive a bridge with N widget sessions and report latency, errors, timeouts and duplicates", run: runLoad},
	"replay":      {summary: "replay captured sessions against a bridge and diff the answers", run: runReplay},
	"serve":       {summary: "run the bridge daemon (embedded Dataverse emulator by default)", run: runServe},
	"version":     {summary: "print the version and build information", run: runVersion},
}

// usageError makes the process exit with status 2 (bad invocation).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(report(os.Stderr, os.Args[1:], err))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return usageError{errors.New("no command given")}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		// "cifbridge help serve" is "cifbridge serve --help".
		if len(args) > 1 && args[0] == "help" {
			if cmd, ok := commands[args[1]]; ok {
				return cmd.run(ctx, []string{"--help"}, stdout, stderr)
			}
			return usageError{fmt.Errorf("unknown command %q", args[1])}
		}
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

// report prints err (if any) for the person at the terminal and returns the
// exit status: 0, 1 for a failure, 2 for bad input, which also gets one line
// saying where the usage is (not the whole usage).
func report(w io.Writer, args []string, err error) int {
	if err == nil {
		return 0
	}
	name := "cifbridge"
	if len(args) > 0 {
		if _, ok := commands[args[0]]; ok {
			name += " " + args[0]
		}
	}
	fmt.Fprintf(w, "%s: %v\n", name, err)
	var ue usageError
	if !errors.As(err, &ue) {
		return 1
	}
	if name == "cifbridge" {
		fmt.Fprintln(w, "run 'cifbridge --help' for the commands")
	} else {
		fmt.Fprintf(w, "run '%s --help' for usage\n", name)
	}
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "cifbridge emulates the Dynamics 365 Channel Integration Framework (CIF) channel over WebSocket + JSON-RPC 2.0.")
	fmt.Fprintln(w, "\nUsage: cifbridge <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'cifbridge <command> --help' for the flags of a command.")
}

// envName is the environment variable that fills a flag of serve:
// CIFBRIDGE_ + the flag name upper-cased with - turned into _. Other
// subcommands have their own prefix (flagEnv).
func envName(flag string) string {
	return "CIFBRIDGE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
