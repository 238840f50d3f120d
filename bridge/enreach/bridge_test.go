package enreach_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/internal/testutil"
	"github.com/cifbridge/cifbridge/internal/wstest"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestThroughBridge runs enreach.executeQuery and setANumber over a real
// widget WebSocket, wired as cmd/cifbridge wires them, with a per-session
// token from bridge.hello.
func TestThroughBridge(t *testing.T) {
	u := newUpstream(t)
	logs := &testutil.Buffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	c, err := enreach.New(enreach.Config{BaseURL: u.URL + "/api", User: user, Secret: secret, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
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
	base := wstest.Serve(t, srv)
	ws := dialWidget(t, base+protocol.PathWidget)
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

	r = ws.call(t, protocol.MethodHello, map[string]any{"enreachToken": session})
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	var hello protocol.HelloResult
	_ = json.Unmarshal(r.Result, &hello)
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

type widget struct {
	ws  *websocket.Conn
	seq int
}

func dialWidget(t *testing.T, url string) *widget {
	t.Helper()
	ws := wstest.Dial(t, url, nil)
	return &widget{ws: ws}
}

// call sends a request and returns its reply, skipping notifications.
func (w *widget) call(t *testing.T, method string, params any) wstest.Answer {
	t.Helper()
	w.seq++
	p, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := wstest.Call(ctx, w.ws, json.RawMessage(strings.TrimSpace(string(mustMarshal(w.seq)))), method, p)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return a
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
