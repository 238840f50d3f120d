package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/enreachemu"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestServePluginStatePerRun runs serve four times at once in this process,
// each with other plug-in flags, and checks that every run behaves by its
// own: --idempotent-creates (the retry plug-in), --capture-dir (capture) and
// --enreach-url (enreach). The first create of each run lands after the CIF
// timeout, so the retry engine reports a possible duplicate unless the run's
// creates are idempotent.
func TestServePluginStatePerRun(t *testing.T) {
	faults := slowFirstCreate(t, 1000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(up.Close)
	secret := secretFile(t, enTestSecret)

	tests := []struct {
		name                         string
		idempotent, capture, enreach bool
		noEmulator                   bool // --enreach-emulator=false
	}{
		{name: "all", idempotent: true, capture: true, enreach: true},
		{name: "none", noEmulator: true},
		{name: "capture only", capture: true},
		{name: "idempotent and enreach", idempotent: true, enreach: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"--cif-timeout", "300ms", "--emulator-faults", faults}
			if tt.idempotent {
				args = append(args, "--idempotent-creates")
			}
			dir := t.TempDir()
			if tt.capture {
				args = append(args, "--capture-dir", dir)
			}
			if tt.enreach {
				args = append(args, "--enreach-url", up.URL, "--enreach-user", "agent", "--enreach-secret-file", secret)
			}
			if tt.noEmulator {
				args = append(args, "--enreach-emulator=false")
			}
			url, logs, stop := startServe(t, args...)
			w := dialWS(t, url)

			hello := w.c.Hello()
			if hello.Session == "" {
				t.Fatalf("hello %+v", hello)
			}

			res, perr := w.call(protocol.MethodXrmCreateRecord, map[string]any{"entityLogicalName": "phonecall", "data": map[string]any{"subject": tt.name}, "delay": 0})
			var created protocol.XrmCreateResult
			if perr != nil || json.Unmarshal(res, &created) != nil {
				t.Fatalf("create %s %+v", res, perr)
			}
			if created.Attempts != 2 || created.PossibleDuplicate == tt.idempotent {
				t.Errorf("create %s: want 2 attempts and possibleDuplicate %v (idempotent %v)", res, !tt.idempotent, tt.idempotent)
			}

			res, perr = w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"})
			switch {
			case tt.enreach && (perr != nil || string(res) != `{"path":"/users/me"}`):
				t.Errorf("executeQuery with --enreach-url: %s %+v", res, perr)
			case tt.noEmulator && (perr == nil || perr.Code != protocol.CodeNoBackend):
				t.Errorf("executeQuery without --enreach-url or emulator: %s %+v, want %d", res, perr, protocol.CodeNoBackend)
			case !tt.enreach && !tt.noEmulator && (perr != nil || !strings.Contains(string(res), enreachemu.DefaultUserID)):
				t.Errorf("executeQuery from the Enreach emulator: %s %+v", res, perr)
			}

			// The first attempt's late answer lands before serve stops, so
			// the capture holds it in the session's one file.
			w.waitNote(protocol.NotifyLate)
			if err := stop(); err != nil {
				t.Fatalf("serve: %v\n%s", err, logs)
			}
			files := captureFiles(t, dir)
			if !tt.capture {
				if len(files) != 0 {
					t.Fatalf("captured %v without --capture-dir", files)
				}
				return
			}
			if len(files) != 1 {
				t.Fatalf("capture files %v, want one for session %s", files, hello.Session)
			}
			h, _, err := protocol.ReadCaptureFile(files[0])
			if err != nil || h.Session != hello.Session || h.TimeoutMs != 300 {
				t.Fatalf("capture header %+v (%v), want session %s, 300 ms", h, err, hello.Session)
			}
		})
	}
}

// TestServePluginsPerRun checks the seam itself: each run gets fresh
// plug-ins, its flags land in its own instances, and servePluginOf finds the
// run's own.
func TestServePluginsPerRun(t *testing.T) {
	parse := func(args ...string) *serveEnv {
		t.Helper()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		env := &serveEnv{plugins: newServePlugins()}
		for _, p := range env.plugins {
			p.flags(fs)
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return env
	}
	a := parse("--idempotent-creates", "--capture-dir", "a", "--enreach-url", "https://a.example")
	b := parse("--capture-dir", "b")

	ra, _ := servePluginOf[*retryPlugin](a)
	rb, _ := servePluginOf[*retryPlugin](b)
	ca, _ := servePluginOf[*capturePlugin](a)
	cb, _ := servePluginOf[*capturePlugin](b)
	ea, _ := servePluginOf[*enreachPlugin](a)
	eb, ok := servePluginOf[*enreachPlugin](b)
	if !ok || ra == rb || ca == cb || ea == eb {
		t.Fatal("two runs share plug-in instances")
	}
	if !ra.idempotent || rb.idempotent || ca.dir != "a" || cb.dir != "b" || ea.url != "https://a.example" || eb.url != "" {
		t.Fatalf("flags leaked between runs: retry %v/%v, capture %q/%q, enreach %q/%q", ra.idempotent, rb.idempotent, ca.dir, cb.dir, ea.url, eb.url)
	}
	if _, ok := servePluginOf[*retryPlugin](&serveEnv{}); ok {
		t.Fatal("servePluginOf found a plug-in in a run without plug-ins")
	}
}
