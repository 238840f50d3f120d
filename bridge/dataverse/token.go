package dataverse

import (
	"context"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokens caches the access token (oauth2.ReuseTokenSource refreshes it
// before it expires) and can drop it when Dataverse answers 401.
type tokens struct {
	cc  *clientcredentials.Config
	ctx context.Context // carries the HTTP client for the token endpoint
	log zerolog.Logger

	// mu guards src and current.
	mu      sync.Mutex
	src     oauth2.TokenSource
	current string // the access token src last returned
}

func newTokens(cc *clientcredentials.Config, ctx context.Context, log zerolog.Logger) *tokens {
	t := &tokens{cc: cc, ctx: ctx, log: log}
	t.src = t.newSource()
	return t
}

// newSource returns a caching source over a fetch that logs each token
// acquisition as an event, without the token.
func (t *tokens) newSource() oauth2.TokenSource {
	fetch := tokenFunc(func() (*oauth2.Token, error) {
		tok, err := t.cc.Token(t.ctx)
		if err != nil {
			t.log.Warn().Str("tokenURL", t.cc.TokenURL).Str("reason", tokenErrorReason(err)).Msg("dataverse token request failed")
			return nil, err
		}
		t.log.Info().Time("expiry", tok.Expiry).Msg("dataverse access token acquired")
		return tok, nil
	})
	return oauth2.ReuseTokenSource(nil, fetch)
}

// token returns a valid access token, fetching one when needed.
func (t *tokens) token() (string, error) {
	t.mu.Lock()
	src := t.src
	t.mu.Unlock()
	tok, err := src.Token()
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	if t.src == src {
		t.current = tok.AccessToken
	}
	t.mu.Unlock()
	return tok.AccessToken, nil
}

// invalidate drops the cached token when it is still bad (a concurrent
// caller may already have replaced it), so the next token call fetches anew.
func (t *tokens) invalidate(bad string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.current == bad {
		t.src = t.newSource()
		t.current = ""
		t.log.Info().Msg("dataverse rejected the access token (401): fetching a new one")
	}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

// tokenErrorReason is a log-safe summary of a token endpoint failure: the
// OAuth2 error code and HTTP status, never the response body.
func tokenErrorReason(err error) string {
	var re *oauth2.RetrieveError
	if asRetrieveError(err, &re) {
		s := re.ErrorCode
		if s == "" || !codeLike(s) { // an OAuth error code, never free text from the endpoint
			s = "error"
		}
		if re.Response != nil {
			return s + " (" + re.Response.Status + ")"
		}
		return s
	}
	return "token endpoint unreachable"
}

// codeLike reports whether s looks like an OAuth error code
// ("invalid_client"): short, letters, digits and _.- only.
func codeLike(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
