package enreach_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// An upstream that echoes the credentials in any encoding (JSON-escaped,
// percent-encoded, Base64 of the Basic credentials) gets none of them into
// the answer, the error or the log.
func TestEchoedSecretsAreRedactedInEveryEncoding(t *testing.T) {
	const weird = `Se"cr<et>&/x+y z` // JSON and URL encodings differ from it
	echo := func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		creds := user + ":" + pass
		if !ok {
			pass, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			creds = pass // no Basic form for a bearer token
		}
		body, _ := json.Marshal(map[string]string{
			"json": pass, "query": url.QueryEscape(pass), "path": url.PathEscape(pass),
			"b64": base64.StdEncoding.EncodeToString([]byte(pass)), "basic": base64.StdEncoding.EncodeToString([]byte(creds)),
		})
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusBadRequest)
		}
		w.Write(body)
	}
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	logs := &testutil.Buffer{}
	c, err := enreach.New(enreach.Config{BaseURL: srv.URL + "/api/", User: user, Secret: weird, Logger: zerolog.New(logs).Level(zerolog.DebugLevel)})
	if err != nil {
		t.Fatal(err)
	}
	const tok = `tok"en<1>&/+ 2`
	for _, tt := range []struct{ name, token, query string }{
		{"basic answer", "", "/echo"},
		{"basic error", "", "/fail"},
		{"bearer answer", tok, "/echo"},
		{"bearer error", tok, "/fail"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.ExecuteQuery(t.Context(), tt.token, testutil.MustJSON(t, map[string]any{"query": tt.query}))
			text := string(res)
			if err != nil {
				pe := wantCode(t, err, protocol.CodeUpstream)
				text = pe.Message + string(pe.Data)
			}
			// Every member the upstream sent is an encoding of a secret.
			body := res
			if err != nil {
				var d struct{ Body json.RawMessage }
				json.Unmarshal(wantCode(t, err, protocol.CodeUpstream).Data, &d)
				body = d.Body
			}
			var members map[string]string
			if err := json.Unmarshal(body, &members); err != nil || len(members) != 5 {
				t.Fatalf("body %s: %v", body, err)
			}
			for k, v := range members {
				if v != redact.Redacted {
					t.Errorf("%s: %q got through", k, v)
				}
			}
			for _, s := range []redact.Secret{{Value: weird, Users: []string{user}}, {Value: tok}} {
				for _, f := range redact.Forms(s) {
					if strings.Contains(text, f) || strings.Contains(logs.String(), f) {
						t.Fatalf("form %q of a secret got through: %s", f, text)
					}
				}
			}
		})
	}
}
