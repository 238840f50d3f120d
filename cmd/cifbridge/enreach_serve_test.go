package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

const enTestSecret = "enreach-SECRET-key-4242"

func TestEnreachFlagValidation(t *testing.T) {
	file := secretFile(t, enTestSecret)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"user without url", []string{"--enreach-user", "u"}, "--enreach-url"},
		{"user without secret", []string{"--enreach-url", "https://api.example.com", "--enreach-user", "u"}, "CIFBRIDGE_ENREACH_SECRET"},
		{"secret without user", []string{"--enreach-url", "https://api.example.com", "--enreach-secret-file", file}, "--enreach-user"},
		{"secret twice", []string{"--enreach-url", "https://api.example.com", "--enreach-user", "u", "--enreach-secret-file", file, "--enreach-secret", "x"}, "not both"},
		{"bad body template", []string{"--enreach-url", "https://api.example.com", "--enreach-anumber-body", `{"Number":1}`}, "{{aNumber}}"},
		{"bad url", []string{"--enreach-url", "api.example.com"}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tt.args...)
			err := run(context.Background(), args, io.Discard, io.Discard)
			var ue usageError
			if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a usage error naming %q", err, tt.want)
			}
			if strings.Contains(err.Error(), enTestSecret) {
				t.Fatal("the error holds the secret")
			}
		})
	}
}

func TestServeEnreach(t *testing.T) {
	var auth atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(up.Close)
	url, logs, stop := startServe(t, "--enreach-url", up.URL, "--enreach-user", "agent", "--enreach-secret-file", secretFile(t, enTestSecret))
	w := dialWS(t, url)
	res, perr := w.call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"})
	if perr != nil || string(res) != `{"path":"/users/me"}` {
		t.Fatalf("executeQuery %s %v", res, perr)
	}
	if a, _ := auth.Load().(string); a != "Basic "+base64.StdEncoding.EncodeToString([]byte("agent:"+enTestSecret)) {
		t.Fatalf("upstream auth %q", a)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), enTestSecret) || strings.Contains(logs.String(), "Basic ") {
		t.Fatal("the log holds the secret")
	}

	// without --enreach-url the methods are not registered
	url, _, _ = startServe(t)
	_, perr = dialWS(t, url).call(protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"})
	if perr == nil || perr.Code != protocol.CodeNoBackend || !strings.Contains(perr.Message, "--enreach-url") {
		t.Fatalf("without --enreach-url: %+v", perr)
	}
}
