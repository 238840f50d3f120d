package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
)

// ErrNotServed: the bridge does not serve that part of the admin API (e.g.
// /api/v1/emulator/ with another backend, /api/v1/ledger without the retry
// engine).
var ErrNotServed = errors.New("the bridge does not serve this admin endpoint")

// Admin reads and drives a bridge's REST admin API (/api/v1/…).
type Admin struct {
	// Base is the bridge's HTTP base, http://host:port.
	Base string
	// Token is the bridge token, sent as a bearer token.
	Token string
	// HTTPClient makes the requests; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
}

// NewAdmin returns the admin client of the bridge whose WebSocket endpoint
// is wsURL (ws://host:port/v1/widget, or wss://…).
func NewAdmin(wsURL, token string) (*Admin, error) {
	base, err := HTTPBase(wsURL)
	if err != nil {
		return nil, err
	}
	return &Admin{Base: base, Token: token}, nil
}

// HTTPBase turns a bridge WebSocket URL into its HTTP base:
// ws://host:port/v1/widget → http://host:port.
func HTTPBase(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", fmt.Errorf("bridge URL %q: %w", wsURL, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("bridge URL %q: want ws://HOST:PORT%s or wss://…", wsURL, protocol.PathWidget)
	}
	if u.Host == "" {
		return "", fmt.Errorf("bridge URL %q: no host", wsURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

var defaultAdminClient = &http.Client{Timeout: 10 * time.Second}

// Do sends one request (body marshalled to JSON unless nil or []byte) and
// decodes a 2xx answer into out (nil: discard it). The bridge's errors
// ({"error":{code,message}}) come back as *protocol.Error; no such route
// (405, or 404 with -32601, or a plain 404 or 405 from an older bridge) as
// ErrNotServed, with the bridge's *protocol.Error when it sent one.
func (a *Admin) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
		if method != http.MethodGet && method != http.MethodHead {
			rd = strings.NewReader("{}")
		}
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("%s %s: encode the body: %w", method, path, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		// The bridge refuses a state change without it (cross-site guard).
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	hc := a.HTTPClient
	if hc == nil {
		hc = defaultAdminClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error *protocol.Error `json:"error"`
		}
		switch {
		case json.Unmarshal(b, &e) == nil && e.Error != nil:
			if resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotFound && e.Error.Code == protocol.CodeMethodNotFound {
				// No such route on this bridge (its answer says which).
				return fmt.Errorf("%s %s: %s: %w: %w", method, path, resp.Status, ErrNotServed, e.Error)
			}
			return fmt.Errorf("%s %s: %s: %w", method, path, resp.Status, e.Error)
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
			return fmt.Errorf("%s %s: %w", method, path, ErrNotServed)
		}
		return fmt.Errorf("%s %s: %s: %.200s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// Status reads GET /api/v1/status.
func (a *Admin) Status(ctx context.Context) (protocol.Status, error) {
	var s protocol.Status
	return s, a.Do(ctx, http.MethodGet, protocol.PathStatus, nil, &s)
}

// Sessions reads GET /api/v1/sessions: a single node's sessions oldest
// first; on a cluster node every node's sessions, each with its Node
// (SessionList also tells which nodes did not answer).
func (a *Admin) Sessions(ctx context.Context) ([]protocol.SessionInfo, error) {
	l, err := a.SessionList(ctx)
	return l.Sessions, err
}

// SessionList reads GET /api/v1/sessions whole: on a cluster node also the
// nodes that answered the gather and those that did not (Missing).
func (a *Admin) SessionList(ctx context.Context) (protocol.SessionList, error) {
	var l protocol.SessionList
	return l, a.Do(ctx, http.MethodGet, protocol.PathSessions, nil, &l)
}

// LocalSessions reads GET /api/v1/sessions?scope=local: the sessions of
// the node a is connected to only, without asking the other nodes.
func (a *Admin) LocalSessions(ctx context.Context) ([]protocol.SessionInfo, error) {
	var l protocol.SessionList
	return l.Sessions, a.Do(ctx, http.MethodGet, protocol.PathSessions+"?scope=local", nil, &l)
}

// Session reads GET /api/v1/sessions/{id}.
func (a *Admin) Session(ctx context.Context, id string) (protocol.SessionInfo, error) {
	var s protocol.SessionInfo
	return s, a.Do(ctx, http.MethodGet, protocol.PathSessions+"/"+url.PathEscape(id), nil, &s)
}

// RaiseEvent raises an event (e.g. "onclicktoact") to a session and
// returns the widget's answer.
func (a *Admin) RaiseEvent(ctx context.Context, session, event string, data json.RawMessage) (json.RawMessage, error) {
	var out protocol.RaiseEventResult
	err := a.Do(ctx, http.MethodPost, protocol.PathSessions+"/"+url.PathEscape(session)+"/events",
		protocol.RaiseEventParams{EventType: event, EventData: data}, &out)
	return out.Result, err
}

// LedgerFilter selects ledger entries; zero fields do not filter.
type LedgerFilter struct {
	Session string
	Status  protocol.LedgerStatus
	Limit   int
}

// Ledger reads GET /api/v1/ledger (newest first, as the bridge lists them).
func (a *Admin) Ledger(ctx context.Context, f LedgerFilter) ([]protocol.LedgerEntry, error) {
	q := url.Values{}
	if f.Session != "" {
		q.Set("session", f.Session)
	}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := protocol.PathLedger
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l protocol.LedgerList
	return l.Entries, a.Do(ctx, http.MethodGet, path, nil, &l)
}

// LedgerEntry reads GET /api/v1/ledger/{id}.
func (a *Admin) LedgerEntry(ctx context.Context, id string) (protocol.LedgerEntry, error) {
	var e protocol.LedgerEntry
	return e, a.Do(ctx, http.MethodGet, protocol.PathLedger+"/"+url.PathEscape(id), nil, &e)
}

// Acknowledge marks a ledger entry as looked at (status "acknowledged")
// with an optional note and returns it.
func (a *Admin) Acknowledge(ctx context.Context, id, note string) (protocol.LedgerEntry, error) {
	var e protocol.LedgerEntry
	return e, a.Do(ctx, http.MethodPost, protocol.PathLedger+"/"+url.PathEscape(id)+"/acknowledge", protocol.LedgerAcknowledgeParams{Note: note}, &e)
}

// EmulatorStats reads GET /api/v1/emulator/stats: the emulator's ground
// truth (ErrNotServed with another backend).
func (a *Admin) EmulatorStats(ctx context.Context) (protocol.EmulatorStats, error) {
	var s protocol.EmulatorStats
	return s, a.Do(ctx, http.MethodGet, protocol.PathEmulatorStats, nil, &s)
}

// PutFaults installs an emulator fault profile (JSON).
func (a *Admin) PutFaults(ctx context.Context, profile []byte) error {
	if !json.Valid(profile) {
		return errors.New("the fault profile is not valid JSON")
	}
	return a.Do(ctx, http.MethodPut, protocol.PathEmulatorFaults, profile, nil)
}
