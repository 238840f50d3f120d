package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/enreachemu"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestExamplesParse reads every examples/*.json with the parser of the flag
// that takes it, so a shipped example never rots.
func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			switch name := filepath.Base(f); {
			case strings.HasPrefix(name, "faults"): // --emulator-faults, load --faults
				_, err = newEmulator(serveFlags{emulatorFaults: f, emulatorMax: emulator.DefaultMaxRecords}, nopLog())
			case strings.HasPrefix(name, "enreach-emulator"): // --enreach-emulator-file
				_, err = enreachemu.ParseSpec(b)
			case strings.HasPrefix(name, "schema"): // --emulator-schema
				_, err = newEmulator(serveFlags{emulatorSchema: f, emulatorMax: emulator.DefaultMaxRecords}, nopLog())
			case strings.HasPrefix(name, "seed"): // --emulator-seed
				_, err = newEmulator(serveFlags{emulatorSeed: f, emulatorMax: emulator.DefaultMaxRecords}, nopLog())
			default:
				t.Fatalf("no parser known for %s: name it faults*, enreach-emulator*, schema* or seed*, or teach this test", name)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// readmeCommands returns the README's shell commands, one per command with
// its backslash continuations joined, grouped by code block.
func readmeCommands(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile("README.md") // the caller is in the repository root
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	var cur []string
	in, cont := false, ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```sh"):
			in, cur = true, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			blocks = append(blocks, cur)
		case in:
			l := strings.TrimSpace(line)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if s, ok := strings.CutSuffix(l, "\\"); ok {
				cont += s + " "
				continue
			}
			cur = append(cur, cont+l)
			cont = ""
		}
	}
	return blocks
}

// shellWords splits a command line as sh would for the quoting the README
// uses ('…', "…", plain words).
func shellWords(s string) []string {
	var out []string
	var w strings.Builder
	quote, inWord := byte(0), false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, w.String())
	}
	return out
}

// TestReadmeExamples runs the README's non-interactive commands as written:
// every `go run ./cmd/cifbridge serve …` starts (in-process, on a free port
// and a temporary --data-dir), the `curl http://127.0.0.1:8787/…` lines of
// its block are sent to it, and `go run ./cmd/cifbridge load …` runs
// against it, shortened (duration, rate, sessions, late wait) and with its
// report files in a temporary directory. Other commands (the test script,
// docker) are listed in the log, not run.
func TestReadmeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's load example (about 15 s)")
	}
	t.Chdir("../..") // the README's paths are relative to the repository root
	ran := 0
	for bi, block := range readmeCommands(t) {
		var base, wsURL string
		for _, cmd := range block {
			words := shellWords(cmd)
			switch {
			case len(words) >= 4 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/cifbridge" && words[3] == "serve":
				url, _, _ := startServe(t, words[4:]...)
				wsURL = url
				base = "http" + strings.TrimSuffix(strings.TrimPrefix(url, "ws"), protocol.PathWidget)
				ran++
			case len(words) >= 4 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/cifbridge" && words[3] == "load":
				if wsURL == "" {
					url, _, _ := startServe(t)
					wsURL = url
				}
				dir := t.TempDir()
				args := append(append([]string{"load"}, words[4:]...), "--url", wsURL, "--duration", "1s", "--warmup", "0s",
					"--rate", "40", "--sessions", "2", "--late-wait", "15s", "--json", filepath.Join(dir, "r.json"), "--html", filepath.Join(dir, "r.html"))
				var out bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err := run(ctx, args, &out, &out)
				cancel()
				if err != nil {
					t.Errorf("README block %d: %s\n→ %v\n%s", bi, cmd, err, &out)
				}
				ran++
			case words[0] == "curl" && base != "":
				curl(t, bi, cmd, words[1:], base)
				ran++
			default:
				t.Logf("README block %d: not run: %s", bi, cmd)
			}
		}
	}
	if ran < 3 {
		t.Fatalf("ran %d README commands: the README's examples were not found", ran)
	}
}

// curl sends one README curl command (-u, -H, -X, -d and a URL on
// 127.0.0.1:8787) to the daemon at base and requires a 2xx answer.
func curl(t *testing.T, block int, cmd string, args []string, base string) {
	t.Helper()
	method, url, body, user := "", "", "", ""
	hdr := http.Header{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "-u" || a == "-H" || a == "-X" || a == "-d") && i+1 < len(args):
			v := args[i+1]
			i++
			switch a {
			case "-u":
				user = v
			case "-H":
				k, val, _ := strings.Cut(v, ":")
				hdr.Add(strings.TrimSpace(k), strings.TrimSpace(val))
			case "-X":
				method = v
			case "-d":
				body = v
			}
		case strings.HasPrefix(a, "-s") || a == "-i" || a == "-f":
		case strings.HasPrefix(a, "http://127.0.0.1:8787"):
			url = base + strings.TrimPrefix(a, "http://127.0.0.1:8787")
		default:
			t.Errorf("README block %d: curl option %q is not understood by this test: %s", block, a, cmd)
			return
		}
	}
	if method == "" {
		method = "GET"
		if body != "" {
			method = "POST"
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil || url == "" {
		t.Errorf("README block %d: %s: no URL on 127.0.0.1:8787 (%v)", block, cmd, err)
		return
	}
	req.Header = hdr
	if u, p, ok := strings.Cut(user, ":"); ok {
		req.SetBasicAuth(u, p)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("README block %d: %s: %v", block, cmd, err)
		return
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 || (len(b) > 0 && !json.Valid(b)) {
		t.Errorf("README block %d: %s → %d %s", block, cmd, res.StatusCode, b)
	}
}

func nopLog() zerolog.Logger { return zerolog.Nop() }

// TestParityTableNamesTests: every row of the emulator parity table (the
// README's and docs/emulator-parity.md) names at least one test, and every
// test it names exists, so the table cannot claim what nothing checks.
func TestParityTableNamesTests(t *testing.T) {
	var sources []string
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sources = append(sources, string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(sources, "\n")
	name := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`")
	for _, doc := range []string{"../../docs/emulator-parity.md", "../../README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		inParity := false // inside a table whose header is "| feature | Dataverse | …"
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "|") {
				inParity = false
				continue
			}
			cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
			if strings.HasPrefix(line, "| feature | Dataverse |") {
				inParity = true
				continue
			}
			if !inParity || len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
				continue // not a parity row
			}
			rows++
			names := name.FindAllStringSubmatch(cells[4], -1)
			if len(names) == 0 {
				t.Errorf("%s: the row %q names no test", doc, strings.TrimSpace(cells[0]))
			}
			for _, n := range names {
				if !strings.Contains(all, "func "+n[1]+"(") {
					t.Errorf("%s: the row %q names %s, which does not exist", doc, strings.TrimSpace(cells[0]), n[1])
				}
			}
		}
		if rows < 5 {
			t.Errorf("%s: found %d parity rows: has the table moved?", doc, rows)
		}
	}
}
