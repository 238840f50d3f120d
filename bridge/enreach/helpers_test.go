package enreach_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// The fake Enreach REST API and the client and checks the tests share.

const (
	user    = "agent@example.com"
	secret  = "SeCrEt-KEY-0123456789abcdef"
	session = "sess-TOKEN-eyJhbGciOi.never-logged"
)

// upstream is a fake Enreach REST API that records every request.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	Method, Path, Query, Auth, ContentType, Accept string
	Body                                           string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"),
			r.Header.Get("Content-Type"), r.Header.Get("Accept"), string(body)})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/users/me":
			fmt.Fprint(w, `{"Id":"8a1b-user","OrganizationID":"org-1"}`)
		case strings.HasPrefix(r.URL.Path, "/api/users/8a1b-user/features/cli/activate/"):
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/api/text":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "plain text answer")
		case r.URL.Path == "/api/fail":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, strings.Repeat("boom ", 1000))
		case r.URL.Path == "/api/notfound":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"Message":"No such user"}`)
		case r.URL.Path == "/api/echo-auth":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"Message":"bad credentials %s"}`, r.Header.Get("Authorization"))
		case r.URL.Path == "/api/big":
			fmt.Fprintf(w, `{"x":%q}`, strings.Repeat("a", 4096))
		default:
			fmt.Fprintf(w, `{"method":%q,"path":%q}`, r.Method, r.URL.Path)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

func (u *upstream) last() seen {
	r := u.requests()
	return r[len(r)-1]
}

// secretsAbsent fails when any credential appears in text.
func secretsAbsent(t *testing.T, what, text string) {
	t.Helper()
	testutil.NoSecrets(t, what, text, secret, session, base64.StdEncoding.EncodeToString([]byte(user+":"+secret)))
}

func newClient(t *testing.T, u *upstream, edit func(*enreach.Config)) (*enreach.Client, *testutil.Buffer) {
	t.Helper()
	logs := &testutil.Buffer{}
	cfg := enreach.Config{BaseURL: u.URL + "/api/", User: user, Secret: secret, Logger: zerolog.New(logs).Level(zerolog.DebugLevel)}
	if edit != nil {
		edit(&cfg)
	}
	c, err := enreach.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { secretsAbsent(t, "the log", logs.String()) })
	return c, logs
}

func wantCode(t *testing.T, err error, code int64) *protocol.Error {
	t.Helper()
	pe := testutil.WantCode(t, err, code)
	secretsAbsent(t, "the error", err.Error())
	return pe
}
