package enreach

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/defaults"
	"github.com/cifbridge/cifbridge/internal/neterr"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one upstream request; below CIF 1.0's 10 s.
	DefaultTimeout = 8 * time.Second
	// DefaultMaxResponseBytes bounds an upstream response body.
	DefaultMaxResponseBytes = 1 << 20
	// ANumberPlaceholder is replaced by the A-number (as a JSON string) in
	// Config.ANumberBody; it must appear there as a whole JSON string.
	ANumberPlaceholder = `"{{aNumber}}"`
	// DefaultANumberBody is the body of the CLI activate call.
	DefaultANumberBody = `{"Number":` + ANumberPlaceholder + `}`
	// maxErrorBody is how much of an error body goes into error.data.
	maxErrorBody = 2048
)

// Config configures New. Zero values mean the documented default.
type Config struct {
	// BaseURL is the Enreach API endpoint, e.g. https://api-sedna.enreachvoice.com.
	// Required.
	BaseURL string
	// User and Secret are the Basic auth credentials (user name and secret
	// key). Optional: a session's token from bridge.hello is used instead
	// when present. Secret is never logged.
	User   string
	Secret string
	// Timeout bounds each upstream request. Default 8 s.
	Timeout time.Duration
	// MaxResponseBytes bounds a response body. Default 1 MiB.
	MaxResponseBytes int64
	// ANumberBody is the JSON body of POST /users/{id}/features/cli/activate/
	// with ANumberPlaceholder where the number goes. Default
	// {"Number":"{{aNumber}}"}.
	ANumberBody string
	// HTTPClient sends the requests. nil means a keep-alive client.
	HTTPClient *http.Client
	// Logger receives one debug line per request (method, path, status,
	// duration), never a header or credential. The zero value is disabled.
	Logger zerolog.Logger
}

// Client calls the Enreach REST API. It is safe for concurrent use.
type Client struct {
	// Immutable after New.
	cfg    Config
	base   *url.URL // without a trailing slash
	client *http.Client
	log    zerolog.Logger

	// mu guards users: the /users/me id per credential.
	mu    sync.Mutex
	users map[string]*userID
}

// userID is the cached GET /users/me answer of one credential; its mutex
// makes concurrent first calls fetch it once.
type userID struct {
	mu sync.Mutex
	id string
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("enreach: BaseURL is required")
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("enreach: BaseURL %q must be an absolute http(s) URL without user info, query or fragment", cfg.BaseURL)
	}
	if (cfg.User == "") != (cfg.Secret == "") {
		return nil, errors.New("enreach: User and Secret go together (Basic auth user:secret key)")
	}
	if err := defaults.Positive("Timeout", &cfg.Timeout, DefaultTimeout); err != nil {
		return nil, fmt.Errorf("enreach: %w", err)
	}
	if err := defaults.Positive("MaxResponseBytes", &cfg.MaxResponseBytes, DefaultMaxResponseBytes); err != nil {
		return nil, fmt.Errorf("enreach: %w", err)
	}
	if cfg.ANumberBody == "" {
		cfg.ANumberBody = DefaultANumberBody
	}
	if err := checkTemplate(cfg.ANumberBody); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		t.TLSHandshakeTimeout = 5 * time.Second
		t.ResponseHeaderTimeout = cfg.Timeout
		cfg.HTTPClient = &http.Client{Transport: t}
	}
	return &Client{
		cfg: cfg, base: u, client: cfg.HTTPClient,
		log:   cfg.Logger.With().Str("upstream", "enreach").Logger(),
		users: map[string]*userID{},
	}, nil
}

// checkTemplate requires the placeholder and valid JSON once filled in.
func checkTemplate(t string) error {
	if !strings.Contains(t, ANumberPlaceholder) {
		return fmt.Errorf("enreach: the A-number body %q must contain %s (with its quotes) where the number goes", t, ANumberPlaceholder)
	}
	if !json.Valid([]byte(fillTemplate(t, "+358401234567"))) {
		return fmt.Errorf("enreach: the A-number body %q is not valid JSON", t)
	}
	return nil
}

func fillTemplate(t, aNumber string) string {
	b, _ := json.Marshal(aNumber)
	return strings.ReplaceAll(t, ANumberPlaceholder, string(b))
}

// auth is the Authorization header value for a session token (bearer wins)
// or the configured Basic credentials, and a cache key that does not hold
// the secret.
func (c *Client) auth(token string) (header, key string) {
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		return "Bearer " + token, "bearer:" + hex.EncodeToString(sum[:8])
	}
	if c.cfg.User != "" {
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(c.cfg.User, c.cfg.Secret)
		return req.Header.Get("Authorization"), "basic:" + c.cfg.User
	}
	return "", "anonymous"
}

// do sends one request and returns the parsed body of a 2xx answer.
func (c *Client) do(ctx context.Context, token, method, path, rawQuery string, body []byte) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	u.RawQuery = rawQuery
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, protocol.InvalidParams("\"query\": %v", err)
	}
	if req.URL.Host != c.base.Host || req.URL.Scheme != c.base.Scheme {
		return nil, protocol.InvalidParams("\"query\" must stay on the Enreach API host")
	}
	authz, _ := c.auth(token)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// An upstream that echoes a credential, in any encoding, must not
	// carry it into an answer, a capture or a log line.
	secrets := c.secrets(token)
	redactString := func(s string) string { return redact.String(s, secrets...) }
	start := time.Now()
	res, err := c.client.Do(req)
	if err != nil {
		msg := "enreach upstream unreachable"
		if errors.Is(err, context.DeadlineExceeded) || neterr.IsTimeout(err) {
			if ctx.Err() != nil && context.Cause(ctx) != context.DeadlineExceeded {
				return nil, context.Cause(ctx)
			}
			msg = fmt.Sprintf("enreach upstream did not answer within %v", c.cfg.Timeout)
		}
		c.log.Warn().Str("http", method).Str("path", path).Str("error", redactString(neterr.Innermost(err))).Msg(msg)
		return nil, protocol.NewError(protocol.CodeUpstream, msg+": "+redactString(neterr.Innermost(err)), protocol.UpstreamErrorData{Status: 0, Body: emptyBody})
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, c.cfg.MaxResponseBytes+1))
	c.log.Debug().Str("http", method).Str("path", path).Int("status", res.StatusCode).Dur("took", time.Since(start)).Msg("enreach request")
	if err != nil {
		return nil, protocol.NewError(protocol.CodeUpstream, "enreach upstream: read the response: "+redactString(neterr.Innermost(err)), protocol.UpstreamErrorData{Status: res.StatusCode, Body: emptyBody})
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return nil, protocol.NewError(protocol.CodeUpstream, fmt.Sprintf("enreach upstream: the response is larger than %d bytes", c.cfg.MaxResponseBytes),
			protocol.UpstreamErrorData{Status: res.StatusCode, Body: emptyBody})
	}
	data = redact.Bytes(data, secrets...)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, protocol.NewError(protocol.CodeUpstream, fmt.Sprintf("enreach upstream answered %d %s", res.StatusCode, http.StatusText(res.StatusCode)),
			protocol.UpstreamErrorData{Status: res.StatusCode, Body: errorBody(data)})
	}
	return parseBody(data), nil
}

// parseBody is the JSON body as is, a JSON string for text, null when empty.
func parseBody(b []byte) json.RawMessage {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(t) {
		return t
	}
	s, _ := json.Marshal(string(b))
	return s
}

// errorBody is an error answer's body for error.data: parsed JSON when it is
// small and valid, else the text truncated to maxErrorBody bytes.
func errorBody(b []byte) json.RawMessage {
	t := bytes.TrimSpace(b)
	if len(t) <= maxErrorBody && len(t) > 0 && json.Valid(t) {
		return json.RawMessage(t)
	}
	s := string(b)
	if len(s) > maxErrorBody {
		s = strings.ToValidUTF8(s[:maxErrorBody], "") + "…"
	}
	q, _ := json.Marshal(s) // a string always marshals
	return q
}

// emptyBody is the body of an upstream that sent none.
var emptyBody = json.RawMessage(`""`)

// secrets are the credentials of one request: the configured secret (with
// its user, for the Basic form) and the session's bearer token.
func (c *Client) secrets(token string) []redact.Secret {
	var out []redact.Secret
	if c.cfg.Secret != "" {
		out = append(out, redact.Secret{Value: c.cfg.Secret, Users: []string{c.cfg.User}})
	}
	if token != "" {
		out = append(out, redact.Secret{Value: token})
	}
	return out
}
