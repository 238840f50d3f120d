package enreach

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// FuzzCheckQuery: a widget's executeQuery query never panics the check;
// what it accepts stays under the API root (no "..", no scheme, no host),
// and its raw query has nothing an HTTP request line cannot carry.
func FuzzCheckQuery(f *testing.F) {
	for _, s := range []string{
		"/users/me", "users/me?x=1", "/calls?name=Aino Virtanen", "../x", "%2e%2e/x", "//evil", "http://evil",
		"/a?b=%zz", "/a?q=\"x\"<y>&c=Hämeenlinna", "/a#frag", "/%2fevil", "a\r\nb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		path, rawQuery, err := checkQuery(q)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidParams || !strings.Contains(pe.Message, "query") {
				t.Fatalf("checkQuery(%q) refused with %v", q, err)
			}
			return
		}
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
			t.Fatalf("checkQuery(%q) path %q", q, path)
		}
		for _, seg := range strings.Split(path, "/") {
			if seg == ".." {
				t.Fatalf("checkQuery(%q) path %q climbs out", q, path)
			}
		}
		for i := 0; i < len(rawQuery); i++ {
			if !queryChar(rawQuery[i]) {
				t.Fatalf("checkQuery(%q) raw query %q carries %q", q, rawQuery, rawQuery[i])
			}
		}
		if _, err := url.ParseQuery(rawQuery); err != nil {
			t.Fatalf("checkQuery(%q) raw query %q does not parse: %v", q, rawQuery, err)
		}
	})
}
