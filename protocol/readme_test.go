package protocol_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's CIF method table from protocol.CIFMethods")

const (
	tableBegin = "<!-- cif-methods:begin (generated from protocol.CIFMethods: go test ./protocol -run TestReadmeMethodTable -update-readme) -->\n"
	tableEnd   = "<!-- cif-methods:end -->"
)

// TestReadmeMethodTable keeps README.md's method table what the Go table
// says, so no method or event is silently missing from it.
func TestReadmeMethodTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q … %q", tableBegin, tableEnd)
	}
	want := protocol.MethodTableMarkdown()
	if got := readme[i+len(tableBegin) : j]; got != want {
		if *updateReadme {
			if err := os.WriteFile("../README.md", []byte(readme[:i+len(tableBegin)]+want+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's method table is stale: run go test ./protocol -run TestReadmeMethodTable -update-readme")
	}
}

// Every method of the table is a cif.* wire method with a spec, or a
// client-only one; every wire name is unique.
func TestMethodTable(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range protocol.CIFMethods {
		if m.Method == "" {
			if m.Answer != protocol.AnswerClient {
				t.Errorf("%s has no wire method but is answered by %s", m.JS, m.Answer)
			}
			continue
		}
		if !strings.HasPrefix(m.Method, protocol.CIFPrefix) || seen[m.Method] {
			t.Errorf("bad or duplicate wire method %q", m.Method)
		}
		seen[m.Method] = true
		if protocol.CIFMethod(m.Method) == nil {
			t.Errorf("CIFMethod(%q) = nil", m.Method)
		}
	}
	for _, name := range []string{"openform", "notifyEvent", "insertNotes"} {
		if s := protocol.CIFMethod(protocol.CIFPrefix + name); s == nil || s.Timeout != protocol.TimeoutNone {
			t.Errorf("%s is not a noTimeout method", name)
		}
	}
}
