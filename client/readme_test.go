package client_test

import (
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestREADMEExample: the README's "Go client" program is Example's code
// (which runs, with its output checked) with a literal URL instead of a
// bridge started in-process, and imports exactly what that code needs.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "\n## Go client\n")
	if !ok {
		t.Fatal(`README has no "## Go client" section`)
	}
	_, code, ok := strings.Cut(sec, "```go\n")
	code, _, ok2 := strings.Cut(code, "```\n")
	if !ok || !ok2 {
		t.Fatal(`the "Go client" section has no go code block`)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}

	const readmeStart = "\turl := \"ws://127.0.0.1:8787/v1/widget\"\n"
	_, readmeBody, ok := strings.Cut(code, readmeStart)
	if !ok {
		t.Fatalf("the README program does not start main with %q", readmeStart)
	}
	readmeBody = strings.TrimSuffix(strings.TrimSpace(readmeBody), "}")
	_, exampleBody, _ := strings.Cut(string(example), "\tdefer stop()\n")
	exampleBody, _, ok = strings.Cut(exampleBody, "\t// Output:")
	if !ok {
		t.Fatal("example_test.go: Example has no // Output")
	}
	if strings.TrimSpace(readmeBody) != strings.TrimSpace(exampleBody) {
		t.Errorf("README's Go client program and client.Example differ; keep them the same.\nREADME:\n%s\nExample:\n%s", readmeBody, exampleBody)
	}

	imports := func(name, src string) []string {
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out []string
		for _, im := range f.Imports {
			out = append(out, strings.Trim(im.Path.Value, `"`))
		}
		slices.Sort(out)
		return out
	}
	got := imports("README.md", code)
	// example_test.go also starts a bridge in-process.
	want := slices.DeleteFunc(imports("example_test.go", string(example)), func(p string) bool {
		return p == "net" || p == "net/http" || strings.Contains(p, "/bridge")
	})
	if !slices.Equal(got, want) {
		t.Errorf("README program imports %v, want %v", got, want)
	}
}
