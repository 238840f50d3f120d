package dataverse

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/internal/defaults"
	"github.com/rs/zerolog"
)

// Defaults of Config.
const (
	// DefaultHTTPTimeout bounds one Web API request. It is below CIF 1.0's
	// 10 s timeout so that the bridge answers before the widget gives up.
	DefaultHTTPTimeout = 8 * time.Second
	// DefaultMaxResponseBytes bounds a Web API response body.
	DefaultMaxResponseBytes = 16 << 20
	// apiPath is the Web API root under the org URL.
	apiPath = "/api/data/v9.2/"
)

// Config configures New. Zero values mean the documented default.
type Config struct {
	// URL is the org, e.g. https://contoso.crm4.dynamics.com. Required. The
	// Web API is URL + /api/data/v9.2/.
	URL string
	// TenantID is the Entra ID tenant (GUID or domain). Required unless
	// TokenURL is set.
	TenantID string
	// ClientID and ClientSecret are the app registration's credentials.
	// Required. ClientSecret is never logged.
	ClientID     string
	ClientSecret string
	// TokenURL overrides the token endpoint, default
	// https://login.microsoftonline.com/<TenantID>/oauth2/v2.0/token.
	TokenURL string
	// Scope is the token scope, default URL + "/.default".
	Scope string
	// HTTPTimeout bounds each Web API request including its one 401 retry.
	// Default 8 s; keep it below the CIF timeout.
	HTTPTimeout time.Duration
	// MaxResponseBytes bounds a response body. Default 16 MiB.
	MaxResponseBytes int64
	// PageSize asks the org for pages of this many records on searches
	// (Prefer: odata.maxpagesize); the backend follows @odata.nextLink up to
	// the query's $top or MaxSearchRecords. 0 means the org's default page
	// (5000); at most 5000.
	PageSize int
	// DuplicateDetection sends "MSCRM.SuppressDuplicateDetection: false" on
	// creates and updates so the org's duplicate-detection rules apply
	// (500, 0x80040333). Default false: Dataverse's own default (suppressed).
	DuplicateDetection bool
	// HTTPClient is used for the Web API and the token endpoint. nil means a
	// client with a keep-alive transport tuned for one host (see
	// NewTransport).
	HTTPClient *http.Client
	// Logger receives request and token events (never their secrets). The
	// zero value is disabled.
	Logger zerolog.Logger
	// Now is the clock for reportTime. nil means time.Now.
	Now func() time.Time
}

// validate fills defaults and checks cfg; the returned error names the field.
func (c *Config) validate() (*url.URL, error) {
	if c.URL == "" {
		return nil, errors.New("dataverse: URL is required (https://<org>.crm.dynamics.com)")
	}
	u, err := url.Parse(strings.TrimRight(c.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("dataverse: URL %q must be an absolute http(s) URL like https://<org>.crm.dynamics.com", c.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("dataverse: URL %q must have no query, fragment or user info", c.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if strings.HasSuffix(u.Path, strings.TrimSuffix(apiPath, "/")) {
		return nil, fmt.Errorf("dataverse: URL %q is the org URL without %s", c.URL, apiPath)
	}
	if c.ClientID == "" {
		return nil, errors.New("dataverse: ClientID is required")
	}
	if c.ClientSecret == "" {
		return nil, errors.New("dataverse: ClientSecret is required")
	}
	if c.TokenURL == "" {
		if c.TenantID == "" {
			return nil, errors.New("dataverse: TenantID is required (or a TokenURL)")
		}
		c.TokenURL = "https://login.microsoftonline.com/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
	} else if t, err := url.Parse(c.TokenURL); err != nil || t.Host == "" || (t.Scheme != "https" && t.Scheme != "http") {
		return nil, fmt.Errorf("dataverse: TokenURL %q must be an absolute http(s) URL", c.TokenURL)
	}
	if c.Scope == "" {
		c.Scope = u.Scheme + "://" + u.Host + "/.default"
	}
	if err := defaults.Positive("HTTPTimeout", &c.HTTPTimeout, DefaultHTTPTimeout); err != nil {
		return nil, fmt.Errorf("dataverse: %w", err)
	}
	if err := defaults.Positive("MaxResponseBytes", &c.MaxResponseBytes, DefaultMaxResponseBytes); err != nil {
		return nil, fmt.Errorf("dataverse: %w", err)
	}
	if c.PageSize < 0 || c.PageSize > MaxSearchRecords {
		return nil, fmt.Errorf("dataverse: PageSize must be 0 (the org's default) to %d, got %d", MaxSearchRecords, c.PageSize)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: NewTransport(c.HTTPTimeout)}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return u, nil
}

// NewTransport returns the keep-alive transport the backend uses by default:
// connections to the org are reused (up to 32 idle per host), dials and TLS
// handshakes are bounded, and a response's headers must arrive within
// timeout.
func NewTransport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 32
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = timeout
	t.ExpectContinueTimeout = time.Second
	t.ForceAttemptHTTP2 = true
	return t
}
