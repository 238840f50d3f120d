package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
)

// EmulatorStats is GET /api/v1/emulator/stats: the emulator's ground truth.
type EmulatorStats = emulator.Stats

// ErrNoEmulator is returned when the bridge serves no emulator admin API
// (another backend).
var ErrNoEmulator = errors.New("the bridge serves no emulator admin API (/api/v1/emulator/)")

// EmulatorAdmin calls the emulator's admin API on a bridge.
type EmulatorAdmin struct {
	Base   string // http://host:port
	Token  string
	Client *http.Client // nil: a client with a 10 s timeout
}

func (a EmulatorAdmin) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	c := a.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	if body == nil && method != http.MethodGet {
		body = []byte("{}")
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if method != http.MethodGet {
		// The bridge refuses a state change without it (cross-site guard).
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, ErrNoEmulator
	case resp.StatusCode >= 300:
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// PutFaults installs a fault profile (JSON).
func (a EmulatorAdmin) PutFaults(ctx context.Context, profile []byte) error {
	if !json.Valid(profile) {
		return errors.New("fault profile is not valid JSON")
	}
	_, err := a.do(ctx, http.MethodPut, "/api/v1/emulator/faults", profile)
	return err
}

// Stats reads the ground-truth counters.
func (a EmulatorAdmin) Stats(ctx context.Context) (EmulatorStats, error) {
	var s EmulatorStats
	b, err := a.do(ctx, http.MethodGet, "/api/v1/emulator/stats", nil)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// Status reads GET /api/v1/status: whether the bridge's admin API answers.
func (a EmulatorAdmin) Status(ctx context.Context) error {
	_, err := a.do(ctx, http.MethodGet, "/api/v1/status", nil)
	return err
}

// Sessions reads GET /api/v1/sessions.
func (a EmulatorAdmin) Sessions(ctx context.Context) ([]bridge.SessionInfo, error) {
	b, err := a.do(ctx, http.MethodGet, "/api/v1/sessions", nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Sessions []bridge.SessionInfo `json:"sessions"`
	}
	return out.Sessions, json.Unmarshal(b, &out)
}
