package redact_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/cifbridge/cifbridge/internal/redact"
)

func TestEveryEncodingIsRedacted(t *testing.T) {
	const secret = `s3c"r<e>t/+&=x y` // characters every encoding treats differently
	js, _ := json.Marshal(secret)
	jsTwice, _ := json.Marshal(`{"secret":` + string(js) + `}`)
	sec := redact.Secret{Value: secret, Users: []string{"agent"}}
	tests := []struct{ name, text string }{
		{"plain", "echo: " + secret + "!"},
		{"JSON-escaped", `{"echo":` + string(js) + `}`},
		{"JSON-escaped twice", `{"body":` + string(jsTwice) + `}`},
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

// percentEncode encodes s as encoders other than Go's do: every byte outside
// RFC 3986's unreserved set and keep as %XX, in lower-case hex when lower.
func percentEncode(s, keep string, lower bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~"+keep, c) >= 0:
			b.WriteByte(c)
		case lower:
			fmt.Fprintf(&b, "%%%02x", c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// An upstream that echoes a secret percent-encoded by its own encoder, not
// Go's, gets it redacted too: which reserved characters an encoder leaves
// alone, and the case of its hex digits, differ.
func TestPercentEncodingOfAnyEncoder(t *testing.T) {
	const secret = `s3c"r<e>t/+&=x y!ä`
	sec := redact.Secret{Value: secret}
	set := redact.NewSet(sec)
	for _, tt := range []struct{ name, encoded string }{
		{"Python quote (keeps /)", percentEncode(secret, "/", false)},
		{"JavaScript encodeURIComponent (keeps !'()*)", percentEncode(secret, "!'()*", false)},
		{"every reserved byte", percentEncode(secret, "", false)},
		{"lower-case hex", percentEncode(secret, "", true)},
		{"Go QueryEscape, lower-case hex", lowerHex(url.QueryEscape(secret))},
		{"space as + with / kept", strings.ReplaceAll(percentEncode(secret, "/ ", false), " ", "+")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := `{"echo":"https://api/x?k=` + tt.encoded + `&a=1"}`
			want := `{"echo":"https://api/x?k=[redacted]&a=1"}`
			if got := redact.String(text, sec); got != want {
				t.Errorf("String:\n got  %s\n want %s", got, want)
			}
			if got := string(redact.Bytes([]byte(text), sec)); got != want {
				t.Errorf("Bytes:\n got  %s\n want %s", got, want)
			}
			if got := string(set.Bytes([]byte(text))); got != want {
				t.Errorf("Set.Bytes:\n got  %s\n want %s", got, want)
			}
		})
	}
	// A secret of unreserved characters only has no percent form but
	// itself, and text with a % in it stays as it is.
	plain := []byte(`{"a":"100%","b":"a+b"}`)
	if got := redact.NewSet(redact.Secret{Value: "abcd-1234"}).Bytes(plain); &got[0] != &plain[0] {
		t.Fatal("clean input with % was copied")
	}
}

// lowerHex turns the hex digits of every %XX in s to lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = byte(unicode.ToLower(rune(b[i+1]))), byte(unicode.ToLower(rune(b[i+2])))
		}
	}
	return string(b)
}
