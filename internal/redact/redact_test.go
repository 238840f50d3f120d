package redact_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/internal/redact"
)

func TestEveryEncodingIsRedacted(t *testing.T) {
	const secret = `s3c"r<e>t/+&=x y` // characters every encoding treats differently
	js, _ := json.Marshal(secret)
	sec := redact.Secret{Value: secret, Users: []string{"agent"}}
	tests := []struct{ name, text string }{
		{"plain", "echo: " + secret + "!"},
		{"JSON-escaped", `{"echo":` + string(js) + `}`},
		{"query-encoded", "https://api/x?secret=" + url.QueryEscape(secret) + "&a=1"},
		{"path-encoded", "https://api/" + url.PathEscape(secret) + "/x"},
		{"percent-encoded with %20", "q=" + strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")},
		{"Base64", "token " + base64.StdEncoding.EncodeToString([]byte(secret))},
		{"Basic credentials", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("agent:"+secret))},
		{"URL-safe Base64 of Basic credentials", base64.RawURLEncoding.EncodeToString([]byte("agent:" + secret))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact.String(tt.text, sec)
			if !strings.Contains(got, redact.Redacted) {
				t.Fatalf("nothing redacted in %q", got)
			}
			for _, f := range redact.Forms(sec) {
				if strings.Contains(got, f) {
					t.Fatalf("form %q left in %q", f, got)
				}
			}
			if b := redact.Bytes([]byte(tt.text), sec); string(b) != got {
				t.Fatalf("Bytes %q, String %q", b, got)
			}
		})
	}
	clean := []byte(`{"nothing":"to see"}`)
	if got := redact.Bytes(clean, sec); &got[0] != &clean[0] {
		t.Fatal("clean input was copied")
	}
	if got := redact.String("abc abc", redact.Secret{Value: "abc"}); got != "abc abc" {
		t.Fatalf("a 3-byte secret was redacted: %q", got)
	}
}

func TestSetRedactsEverySecret(t *testing.T) {
	s := redact.NewSet(redact.Secret{Value: "admin-TOKEN-1"}, redact.Secret{Value: "k<e>y", Users: []string{"u"}}, redact.Secret{Value: "ab"})
	in := `{"a":"admin-TOKEN-1","b":"k\u003ce\u003ey","c":"` + base64.StdEncoding.EncodeToString([]byte("u:k<e>y")) + `","d":"ab"}`
	want := `{"a":"[redacted]","b":"[redacted]","c":"[redacted]","d":"ab"}`
	if got := string(s.Bytes([]byte(in))); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var none *redact.Set
	if got := string(none.Bytes([]byte(in))); got != in {
		t.Fatalf("nil set changed %s", got)
	}
}
