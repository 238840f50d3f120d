package dataverse_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// An org that echoes its bearer token (plain, JSON-escaped, percent-encoded,
// Base64) or the client secret in an error gets none of them to the widget,
// the log or /readyz's reason.
func TestEchoedCredentialsAreRedacted(t *testing.T) {
	f := newFixture(t, nil)
	f.org.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		msg, _ := json.Marshal(fmt.Sprintf("denied for %s / %s / %s / %s / %s", r.Header.Get("Authorization"), url.QueryEscape(tok),
			base64.StdEncoding.EncodeToString([]byte(tok)), clientSecret, base64.StdEncoding.EncodeToString([]byte(clientID+":"+clientSecret))))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"error":{"code":"0x80040220","message":%s}}`, msg)
		return true
	})
	_, err := f.call("s1", protocol.MethodRetrieveRecord, map[string]any{"entityName": "contact", "entityId": "5f2d3c44-0000-4000-8000-00000000aa01"})
	pe := testutil.WantCode(t, err, protocol.CodeBackend)
	checkErr := f.b.Check(context.Background())
	var ce *backend.CheckError
	if !errors.As(checkErr, &ce) || !strings.Contains(ce.Reason, "HTTP 403") {
		t.Fatalf("check: %v", checkErr)
	}
	wire, _ := json.Marshal(pe)
	for _, s := range []redact.Secret{{Value: "tok-1"}, {Value: clientSecret, Users: []string{clientID}}} {
		for _, form := range redact.Forms(s) {
			if strings.Contains(string(wire), form) || strings.Contains(ce.Reason, form) || strings.Contains(f.log.String(), form) {
				t.Fatalf("%q got through: %s / %s", form, wire, ce.Reason)
			}
		}
	}
	if !strings.Contains(pe.Message, redact.Redacted) {
		t.Fatalf("nothing redacted: %s", pe.Message)
	}
}
