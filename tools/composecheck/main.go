// Command composecheck validates docker-compose files with compose-go, the
// loader Docker Compose itself uses, since no Docker engine runs in CI. It
// exits non-zero with the loader's message on any schema or reference error.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck docker-compose.yml…")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(os.Args[1:], cli.WithOsEnv, cli.WithDotEnv, cli.WithName("cifbridge"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
	for name, s := range p.Services {
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			fmt.Fprintf(os.Stderr, "composecheck: service %s has no healthcheck\n", name)
			os.Exit(1)
		}
	}
	fmt.Printf("composecheck: %v valid (%d services)\n", os.Args[1:], len(p.Services))
}
