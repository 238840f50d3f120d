package dataverse

import (
	"bytes"
	"context"
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
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/panel"
	"github.com/cifbridge/cifbridge/internal/neterr"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
)

// Backend executes CIF calls on a Dataverse org. Create it with New; it is
// safe for concurrent use.
type Backend struct {
	// Immutable after New.
	cfg    Config
	org    *url.URL // scheme://host[/path] without a trailing slash
	api    string   // org + /api/data/v9.2/
	client *http.Client
	log    zerolog.Logger
	tokens *tokens

	meta   metaCache   // own mutex
	panels panel.Table // own mutex

	// envMu guards env, the cached getenvironment answer.
	envMu sync.Mutex
	env   json.RawMessage
}

var _ backend.Backend = (*Backend)(nil)

// New validates cfg and returns a Backend. It does not contact Dataverse.
func New(cfg Config) (*Backend, error) {
	org, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	b := &Backend{
		cfg:    cfg,
		org:    org,
		api:    org.String() + apiPath,
		client: cfg.HTTPClient,
		log:    cfg.Logger.With().Str("backend", "dataverse").Logger(),
		panels: panel.Table{Idle: panelIdle, SweepAt: panelSweepAt},
	}
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     cfg.TokenURL,
		Scopes:       []string{cfg.Scope},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	tokCtx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{
		Transport: cfg.HTTPClient.Transport, Timeout: cfg.HTTPTimeout,
	})
	b.tokens = newTokens(cc, tokCtx, b.log)
	return b, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return "dataverse" }

// attempt is what a request needs to know of the call it serves.
type attempt struct {
	method      string // wire method
	messageType string // protocol.MessageType(method)
	attemptID   string
	session     string
}

type handler func(b *Backend, ctx context.Context, a attempt, params json.RawMessage) (json.RawMessage, error)

var handlers = map[string]handler{
	"createrecord":         typed((*Backend).create),
	"retrieverecord":       typed((*Backend).retrieve),
	"updaterecord":         typed((*Backend).update),
	"deleterecord":         typed((*Backend).remove),
	"search":               typed((*Backend).search),
	"searchandopenrecords": typed((*Backend).search),
	"getEntityMetadata":    typed((*Backend).entityMetadata),
	"getenvironment":       (*Backend).environment,
	"execute":              (*Backend).execute,
	"openform":             constant(`{"savedEntityReference":[]}`),
	"refreshform":          constant(`{}`),
	"renderSearchPage":     constant(`null`),
}

func init() {
	for _, mt := range panel.MessageTypes {
		handlers[mt] = (*Backend).panel
	}
}

func constant(v string) handler {
	return func(*Backend, context.Context, attempt, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(v), nil
	}
}

// Execute implements backend.Backend.
func (b *Backend) Execute(ctx context.Context, call *correlation.Attempt) (json.RawMessage, error) {
	mt := protocol.MessageType(call.Method)
	h := handlers[mt]
	if h == nil {
		return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: the dataverse backend does not serve %q", call.Method)
	}
	a := attempt{method: call.Method, messageType: mt, attemptID: call.ID, session: call.Session}
	params, err := call.RawParams()
	if err != nil {
		return nil, protocol.ErrInternal // only the bridge's own decoded params are encoded here
	}
	res, err := h(b, ctx, a, params)
	if err != nil {
		return nil, b.wireErr(ctx, a, err)
	}
	return res, nil
}

// request is one Web API request. path is relative to /api/data/v9.2/ and
// already escaped; query has no leading "?".
type request struct {
	method string
	path   string
	query  string
	body   []byte
	header map[string]string
}

// response is a Web API answer with a 2xx status.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends r with a bearer token. A 401 drops the token and retries once
// with a fresh one. Non-2xx answers are *apiError values.
func (b *Backend) do(ctx context.Context, a attempt, r request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.HTTPTimeout)
	defer cancel()
	for try := 0; ; try++ {
		tok, err := b.tokens.token()
		if err != nil {
			return nil, err
		}
		res, err := b.send(ctx, a, r, tok)
		if err != nil {
			return nil, err
		}
		if res.status == http.StatusUnauthorized && try == 0 {
			b.tokens.invalidate(tok)
			continue
		}
		if res.status < 200 || res.status > 299 {
			return nil, parseAPIError(&http.Response{StatusCode: res.status, Header: res.header}, res.body, b.cfg.Now())
		}
		return res, nil
	}
}

func (b *Backend) send(ctx context.Context, a attempt, r request, tok string) (*response, error) {
	u := b.api + r.path
	if r.query != "" {
		u += "?" + r.query
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, protocol.InvalidParams("cannot build the Web API request: %v", err)
	}
	h := req.Header
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	if r.body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, v := range r.header {
		h.Set(k, v)
	}
	start := time.Now()
	res, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, b.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > b.cfg.MaxResponseBytes {
		return nil, &apiError{Status: res.StatusCode, Message: fmt.Sprintf("the Dataverse response is larger than %d bytes", b.cfg.MaxResponseBytes)}
	}
	// An org (or a proxy before it) that echoes the access token or the
	// client secret, in any encoding, must not carry it into an answer, an
	// error, a capture, a log line or /readyz.
	data = redact.Bytes(data, redact.Secret{Value: tok}, redact.Secret{Value: b.cfg.ClientSecret, Users: []string{b.cfg.ClientID}})
	b.log.Debug().Str("session", a.session).Str("attempt", a.attemptID).Str("http", r.method).Str("path", r.path).
		Int("status", res.StatusCode).Dur("took", time.Since(start)).Msg("dataverse request")
	return &response{status: res.StatusCode, header: res.Header, body: data}, nil
}

// Check calls WhoAmI: nil means the credentials work and the org answers.
func (b *Backend) Check(ctx context.Context) error {
	_, err := b.do(ctx, attempt{method: "check", messageType: "getenvironment"}, request{method: http.MethodGet, path: "WhoAmI"})
	if err == nil {
		return nil
	}
	// The reason is ours: /readyz shows it to anyone, so nothing the org or
	// the token endpoint wrote goes into it.
	reason := "dataverse unreachable"
	var ae *apiError
	var re *oauth2.RetrieveError
	switch {
	case asRetrieveError(err, &re):
		reason = "dataverse authentication failed: the token endpoint refused the client credentials (" + tokenErrorReason(err) + ")"
		if re.Response != nil && re.Response.StatusCode >= 500 {
			reason = "dataverse authentication failed: the token endpoint is failing (" + tokenErrorReason(err) + ")"
		}
	case errors.As(err, &ae):
		reason = fmt.Sprintf("dataverse answered WhoAmI with HTTP %d", ae.Status)
	case errors.Is(err, context.DeadlineExceeded) || neterr.IsTimeout(err):
		reason = "dataverse did not answer WhoAmI in time"
	}
	return &backend.CheckError{Reason: reason, Err: b.wireErr(ctx, attempt{method: "check", messageType: "getenvironment"}, err)}
}

// stripContext removes "@odata.context" from a JSON object, as Xrm.WebApi
// does before handing a record to the caller.
func stripContext(body []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decode Web API answer: %w", err)
	}
	delete(m, "@odata.context")
	return m, nil
}

// escapeQuery makes a CIF query string ("?$select=a&$filter=x eq 'y'")
// safe for a URL: it drops the leading "?" and percent-encodes bytes that
// may not appear in a query (spaces, quotes, control characters, "#"),
// keeping existing %XX escapes.
func escapeQuery(q string) string {
	q = strings.TrimPrefix(strings.TrimSpace(q), "?")
	var sb strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '%' && i+2 < len(q) && isHex(q[i+1]) && isHex(q[i+2]):
			sb.WriteByte(c)
		case c <= 0x20 || c >= 0x7f || strings.IndexByte("\"#<>\\^`{|}%+", c) >= 0:
			fmt.Fprintf(&sb, "%%%02X", c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
