package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeLayoutMatchesTree keeps README.md's "Layout" table in step with
// the tree: every folder holding Go files, and every folder of web/, is named
// there — either as a row of its own or, for a sub-folder, in its parent's
// row —; every folder at the top of the tree has a row (its own or one of a
// folder below it); and every folder the table names exists.
func TestReadmeLayoutMatchesTree(t *testing.T) {
	root := "../.."
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := layoutRows(t, string(readme))

	var dirs []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			if rel != "." {
				dirs = append(dirs, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	web, err := os.ReadDir(filepath.Join(root, "web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range web {
		if e.IsDir() && e.Name() != "node_modules" && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, "web/"+e.Name())
		}
	}

	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if !layoutNames(rows, d) {
			t.Errorf("README's Layout does not name %s/: add it to its row (or its parent's row)", d)
		}
	}
	for _, d := range topLevelDirs(t, root) {
		if !layoutNamesUnder(rows, d) {
			t.Errorf("README's Layout names nothing in %s/: add a row for it", d)
		}
	}
	for key := range rows {
		for _, f := range backticked(key) {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("README's Layout names %s, which is not in the tree", f)
			}
		}
	}
}

// layoutRows maps each row's first cell to its second, from the table
// under "## Layout".
func layoutRows(t *testing.T, readme string) map[string]string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "\n## Layout\n")
	if !ok {
		t.Fatal(`README.md has no "## Layout" section`)
	}
	if i := strings.Index(after, "\n## "); i >= 0 {
		after = after[:i]
	}
	rows := map[string]string{}
	for _, line := range strings.Split(after, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		rows[strings.TrimSpace(cells[1])] = strings.Join(cells[2:len(cells)-1], "|")
	}
	if len(rows) < 2 {
		t.Fatal("README's Layout table is empty")
	}
	return rows
}

// layoutNames reports whether dir has a row of its own or is named in the
// row of one of its parents (as `sub/` relative to that parent).
func layoutNames(rows map[string]string, dir string) bool {
	for key, text := range rows {
		for _, f := range backticked(key) {
			f = strings.TrimSuffix(f, "/")
			if f == dir {
				return true
			}
			if rest, ok := strings.CutPrefix(dir, f+"/"); ok && strings.Contains(text, "`"+rest+"/`") {
				return true
			}
		}
	}
	return false
}

// backticked returns the `quoted` parts of s.
func backticked(s string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(s, "`")
		if !ok {
			return out
		}
		q, rest, ok := strings.Cut(rest, "`")
		if !ok {
			return out
		}
		out = append(out, q)
		s = rest
	}
}

// topLevelDirs lists the folders at the top of the tree that a clone has:
// all but hidden ones, node_modules and those .gitignore names from the
// root ("/name/"), which tests and builds make.
func topLevelDirs(t *testing.T, root string) []string {
	t.Helper()
	ignore, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{"node_modules": true}
	for _, line := range strings.Split(string(ignore), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "/"); ok && strings.HasSuffix(name, "/") {
			skip[strings.TrimSuffix(name, "/")] = true
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !skip[e.Name()] {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs
}

// layoutNamesUnder reports whether a row of the table is top or a folder
// below it.
func layoutNamesUnder(rows map[string]string, top string) bool {
	for key := range rows {
		for _, f := range backticked(key) {
			if f = strings.TrimSuffix(f, "/"); f == top || strings.HasPrefix(f, top+"/") {
				return true
			}
		}
	}
	return false
}
