package client_test

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/cifbridge/cifbridge/"

// TestToolImports keeps the layering the tools rely on: the load tool,
// replay and the bench suite talk to a bridge only through the wire
// contract (protocol) and this client, so they never link the daemon (or
// SQLite), and the client itself needs nothing but protocol. Test files are
// not counted: tests may start a real daemon.
func TestToolImports(t *testing.T) {
	allowed := []string{module + "protocol", module + "client", module + "loadtest", module + "replay"}
	for _, root := range []string{"loadtest", "replay", "bench", "client"} {
		seen := map[string]bool{}
		var walk func(path, dir string, from []string)
		walk = func(path, dir string, from []string) {
			if seen[path] {
				return
			}
			seen[path] = true
			pkg, err := build.ImportDir(dir, 0)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			chain := append(from, path)
			for _, imp := range pkg.Imports {
				switch {
				case strings.HasPrefix(imp, "modernc.org/sqlite"):
					t.Errorf("%s imports SQLite (%s)", strings.Join(chain, " → "), imp)
				case strings.HasPrefix(imp, module):
					if !slices.Contains(allowed, imp) {
						t.Errorf("%s imports %s: tools may import only protocol, client and each other", strings.Join(chain, " → "), imp)
						continue
					}
					walk(imp, filepath.Join("..", strings.TrimPrefix(imp, module)), chain)
				}
			}
		}
		walk(module+root, filepath.Join("..", root), nil)
	}
}
