package main

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// TestServePprof: --pprof serves the runtime profiles under /api/v1/ behind
// the admin token; without the flag the path does not exist.
func TestServePprof(t *testing.T) {
	const token = "pprof-tok"
	tests := []struct {
		name      string
		pprof     bool
		withToken bool
		want      int
	}{
		{name: "pprof without token", pprof: true, want: http.StatusUnauthorized},
		{name: "pprof with token", pprof: true, withToken: true, want: http.StatusOK},
		{name: "no pprof", withToken: true, want: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--token", token}
			if tt.pprof {
				args = append(args, "--pprof")
			}
			wsURL, _, stop := startServe(t, args...)
			base := "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), protocol.PathWidget)
			req, err := http.NewRequest(http.MethodGet, base+"/api/v1/debug/pprof/cmdline", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.withToken {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET cmdline: %d %q, want %d", resp.StatusCode, body, tt.want)
			}
			// pprof.Cmdline answers this process's arguments, NUL-separated.
			if tt.want == http.StatusOK && string(body) != strings.Join(os.Args, "\x00") {
				t.Fatalf("cmdline body %q", body)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
