package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/internal/redact"
)

// The daemon's own secrets never reach a capture, in any encoding, even in
// a member no redaction rule names (here a record's lastname).
func TestServeCaptureScrubsConfiguredSecrets(t *testing.T) {
	const tok = "h<o>st-SECRET-1" // JSON-escapes as h\u003co\u003est-…
	dir := t.TempDir()
	w, stop := serveCapturing(t, dir, "--host-token", tok)
	esc, _ := json.Marshal(tok)
	w.call(1, "cif.createrecord", `{"entityName":"contact","value":{"lastname":`+string(esc)+`,"firstname":"`+base64.StdEncoding.EncodeToString([]byte(tok))+`"}}`)
	stop()
	files := captureFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range redact.Forms(redact.Secret{Value: tok}) {
		if strings.Contains(string(b), f) {
			t.Fatalf("capture holds %q:\n%s", f, b)
		}
	}
	if strings.Count(string(b), redact.Redacted) < 2 {
		t.Fatalf("capture:\n%s", b)
	}
}

// No log line carries a configured secret, in any encoding, even where the
// daemon logs what a client sent (bridge.hello's client string).
func TestServeLogsScrubConfiguredSecrets(t *testing.T) {
	const tok = `h"o>st-SECRET-2`
	url, logs, stop := startServe(t, "--host-token", tok)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, &client.Options{Client: tok + " " + base64.StdEncoding.EncodeToString([]byte(tok))})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	stop()
	if !strings.Contains(logs.String(), `"message":"hello"`) {
		t.Fatalf("no hello line:\n%s", logs)
	}
	for _, f := range redact.Forms(redact.Secret{Value: tok}) {
		if strings.Contains(logs.String(), f) {
			t.Fatalf("the log holds %q:\n%s", f, logs)
		}
	}
}
