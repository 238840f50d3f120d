package bridge_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestMemberNamesExact: JSON-RPC member names match exactly and once
// (issue 13 item 11); such messages are refused -32600, not executed.
func TestMemberNamesExact(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	okResult(t, c.call(protocol.MethodSetMode, map[string]any{"value": 1}), nil)
	for _, msg := range []string{
		`{"JSONRPC":"2.0","ID":1,"METHOD":"cif.setmode","PARAMS":{"value":0}}`,
		`{"jsonrpc":"2.0","id":2,"method":"cif.getmode","Method":"cif.setmode","params":{"value":0}}`,
		`{"jsonrpc":"2.0","id":3,"method":"cif.getmode","method":"cif.setmode","params":{"value":0}}`,
	} {
		c.send(msg)
		r := c.recvReply()
		wantCode(t, r, protocol.CodeInvalidRequest)
	}
	if r := c.call(protocol.MethodGetMode, nil); string(r.Result) != "1" {
		t.Fatalf("mode %s: a refused message was executed", r.Result)
	}
}

// TestInvalidUTF8Closes1007: RFC 6455 §8.1.
func TestInvalidUTF8Closes1007(t *testing.T) {
	tb := startBridge(t, bridge.Config{})
	c := tb.dial(t, protocol.PathWidget, nil)
	c.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cif.search\",\"params\":{\"entityName\":\"contact\",\"queryParameters\":\"?$filter=x eq '\xc3\x28'\"}}")
	_, _, err := c.ws.Read(context.Background())
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("got %v, want close 1007", err)
	}
}

// TestLedgerAcceptsAccessToken: /api/v1/ledger takes ?access_token= like
// every other admin path.
func TestLedgerAcceptsAccessToken(t *testing.T) {
	l, err := ledger.Open(filepath.Join(t.TempDir(), ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := ledger.Handler(l, zerolog.Nop())
	tb := startBridge(t, bridge.Config{Token: "s3cret"})
	tb.srv.Mount(ledger.PathList, h)
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"?access_token=s3cret", http.StatusOK},
		{"?access_token=s3cret&limit=5", http.StatusOK},
		{"?access_token=wrong", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		resp, err := tb.hc.Get(tb.url + ledger.PathList + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s%s = %d, want %d", ledger.PathList, strings.ReplaceAll(tt.query, "s3cret", "…"), resp.StatusCode, tt.want)
		}
	}
}
