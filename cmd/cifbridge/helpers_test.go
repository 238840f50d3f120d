package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// wsWidget is a widget on the typed Go client (client.Conn, which said
// bridge.hello when it connected) that a test makes calls on.
type wsWidget struct {
	t     *testing.T
	c     *client.Conn
	notes chan string // the methods of the notifications received, in order
}

// dialWS connects a widget to url (ws://…/v1/widget) for the rest of the
// test.
func dialWS(t *testing.T, url string) *wsWidget {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := &wsWidget{t: t, notes: make(chan string, 64)}
	note := func(method string) {
		select {
		case w.notes <- method:
		default: // a test that does not read them
		}
	}
	c, err := client.Dial(ctx, url, &client.Options{
		OnLate:   func(protocol.LateParams) { note(protocol.NotifyLate) },
		OnLedger: func(protocol.LedgerParams) { note(protocol.NotifyLedger) },
		OnNotify: func(method string, _ json.RawMessage) { note(method) },
	})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	w.c = c
	return w
}

// dialConn connects the typed client to url (ws://…/v1/widget) within
// ctx, with opts (nil for the defaults), and closes it when the test ends.
func dialConn(t *testing.T, ctx context.Context, url string, opts *client.Options) *client.Conn {
	t.Helper()
	c, err := client.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call makes one call (params marshalled) and returns its result or the
// bridge's error, failing the test on anything else (the socket dropped,
// no answer within 20 s).
func (w *wsWidget) call(method string, params any) (json.RawMessage, *protocol.Error) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var res json.RawMessage
	err := w.c.Call(ctx, method, params, &res)
	var pe *protocol.Error
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &pe):
		return nil, pe
	}
	w.t.Fatalf("%s: %v", method, err)
	return nil, nil
}

// waitNote waits for a notification (protocol.NotifyLate, …), passing over
// others, and fails the test when none comes within 20 s.
func (w *wsWidget) waitNote(method string) {
	w.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-w.notes:
			if m == method {
				return
			}
		case <-timeout:
			w.t.Fatalf("no %s within 20 s", method)
		}
	}
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
