package enreach_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestThroughBridge runs enreach.executeQuery and setANumber over a real
// widget WebSocket, wired as cmd/cifbridge wires them, with a per-session
// token from bridge.hello.
func TestThroughBridge(t *testing.T) {
	u := newUpstream(t)
	c, logs := newClient(t, u, func(cfg *enreach.Config) { cfg.BaseURL = u.URL + "/api" })
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var frames testutil.Buffer
	srv, err := bridge.New(bridge.Config{Backend: emu, Logger: log, OnFrame: func(_, _, _ string, msg []byte) { frames.Write(append(msg, '\n')) }})
	if err != nil {
		t.Fatal(err)
	}
	srv.HandleMethod(protocol.MethodEnreachExecuteQuery, func(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
		return c.ExecuteQuery(ctx, call.Session.EnreachToken(), call.Params)
	})
	srv.HandleMethod(protocol.MethodEnreachSetANumber, func(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
		return c.SetANumber(ctx, call.Session.EnreachToken(), call.Params)
	})
	base := testutil.ServeBridge(t, srv)
	ws := dialWidget(t, base+protocol.PathWidget, "")
	r := ws.call(t, protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/users/me"})
	if r.Error != nil || !strings.Contains(string(r.Result), `"Id":"8a1b-user"`) {
		t.Fatalf("executeQuery: %s %+v", r.Result, r.Error)
	}
	if a := u.last().Auth; !strings.HasPrefix(a, "Basic ") {
		t.Fatalf("without a session token the upstream saw %q", a)
	}
	r = ws.call(t, protocol.MethodEnreachExecuteQuery, map[string]any{"query": "//evil"})
	if r.Error == nil || r.Error.Code != protocol.CodeInvalidParams {
		t.Fatalf("//evil: %+v", r.Error)
	}
	r = ws.call(t, protocol.MethodEnreachExecuteQuery, map[string]any{"query": "/fail"})
	if r.Error == nil || r.Error.Code != protocol.CodeUpstream || !strings.Contains(string(r.Error.Data), `"status":500`) {
		t.Fatalf("/fail: %+v", r.Error)
	}

	// A session whose bridge.hello carried the agent's Enreach token.
	ws = dialWidget(t, base+protocol.PathWidget, session)
	hello := ws.c.Hello()
	r = ws.call(t, protocol.MethodEnreachSetANumber, map[string]any{"aNumber": "+358401234567"})
	if r.Error != nil || string(r.Result) != "null" {
		t.Fatalf("setANumber: %s %+v", r.Result, r.Error)
	}
	if a := u.last().Auth; a != "Bearer "+session {
		t.Fatalf("with a session token the upstream saw %q", a)
	}

	res, err := http.Get("http" + strings.TrimPrefix(base, "ws") + "/api/v1/sessions")
	if err != nil {
		t.Fatal(err)
	}
	sessions, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(sessions), hello.Session) {
		t.Fatalf("sessions listing %s lacks %s", sessions, hello.Session)
	}
	secretsAbsent(t, "/api/v1/sessions", string(sessions))
	secretsAbsent(t, "the bridge log", logs.String())
	// Frames (what a capture records) hold the hello params as the widget
	// sent them; redacting enreachToken there is the capture package's job
	// (bridge/capture/redact.go). Only the enreach frames are checked here.
	for _, line := range strings.Split(frames.String(), "\n") {
		if strings.Contains(line, protocol.MethodHello) {
			continue
		}
		secretsAbsent(t, "a frame", line)
	}
}

// widget is a session on the Go client; enreachToken (may be "") goes in
// its bridge.hello.
type widget struct{ c *client.Conn }

func dialWidget(t *testing.T, url, enreachToken string) *widget {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, &client.Options{EnreachToken: enreachToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &widget{c: c}
}

// answer is a call's result or the bridge's error.
type answer struct {
	Result json.RawMessage
	Error  *protocol.Error
}

// call makes one call and returns its answer; anything but an answer (the
// socket dropped, no answer within 10 s) fails the test.
func (w *widget) call(t *testing.T, method string, params any) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var a answer
	err := w.c.Call(ctx, method, params, &a.Result)
	if err != nil && !errors.As(err, &a.Error) {
		t.Fatalf("%s: %v", method, err)
	}
	return a
}
