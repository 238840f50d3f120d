package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/internal/wstest"
	"github.com/cifbridge/cifbridge/protocol"
)

// wsWidget is a raw widget connection a test makes calls on, numbered 1, 2, …
type wsWidget struct {
	t  *testing.T
	ws *websocket.Conn
	n  int
}

// dialWS connects a widget to url (ws://…/v1/widget) for the rest of the
// test.
func dialWS(t *testing.T, url string) *wsWidget {
	t.Helper()
	return &wsWidget{t: t, ws: wstest.Dial(t, url, nil)}
}

// call makes one call (params marshalled) and returns its result or error,
// failing the test when no answer comes within 20 s.
func (w *wsWidget) call(method string, params any) (json.RawMessage, *protocol.Error) {
	w.t.Helper()
	w.n++
	p, err := json.Marshal(params)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := wstest.Call(ctx, w.ws, json.RawMessage(fmt.Sprint(w.n)), method, p)
	if err != nil {
		w.t.Fatalf("%s: %v", method, err)
	}
	return a.Result, a.Error
}

// refuseServe runs serve on loopback with a fresh --data-dir and args, and
// fails the test unless serve refuses them with a usage error whose message
// holds want; it returns that error.
func refuseServe(t *testing.T, want string, args ...string) error {
	t.Helper()
	err := run(context.Background(), append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...), io.Discard, io.Discard)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
		t.Fatalf("serve %q: got %v, want a usage error naming %q", args, err, want)
	}
	return err
}

// tempFile writes content to a file called name in a fresh temporary
// directory (a fault profile, a secret, a seed) and returns its path.
func tempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
