package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

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
