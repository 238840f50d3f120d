package bridge_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/protocol"
)

// benchBridge is a real bridge on the zero-latency emulator behind a
// loopback httptest server; it returns the widget URL.
func benchBridge(b *testing.B) string {
	_, url := benchServer(b, bridge.Config{})
	return url
}

// benchServer is benchBridge with cfg (its backend is the emulator).
func benchServer(b *testing.B, cfg bridge.Config) (*bridge.Server, string) {
	b.Helper()
	emu := newEmulator(b, nil)
	cfg.Backend, cfg.Extra = emu, map[string]http.Handler{"/api/v1/emulator/": emu.AdminHandler()}
	srv, err := bridge.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + protocol.PathWidget
}

// benchConn is a bare widget connection: requests built by hand, answers
// only checked for "result".
type benchConn struct {
	ws  *websocket.Conn
	id  int
	buf []byte
}

func benchDial(b *testing.B, url string) *benchConn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ws.CloseNow() })
	return &benchConn{ws: ws}
}

var resultKey = []byte(`"result"`)

func (c *benchConn) roundTrip(method, params string) error {
	c.id++
	c.buf = append(c.buf[:0], `{"jsonrpc":"2.0","id":`...)
	c.buf = strconv.AppendInt(c.buf, int64(c.id), 10)
	c.buf = append(c.buf, `,"method":"`...)
	c.buf = append(c.buf, method...)
	c.buf = append(c.buf, `","params":`...)
	c.buf = append(c.buf, params...)
	c.buf = append(c.buf, '}')
	ctx := context.Background()
	if err := c.ws.Write(ctx, websocket.MessageText, c.buf); err != nil {
		return err
	}
	_, msg, err := c.ws.Read(ctx)
	if err != nil {
		return err
	}
	if !bytes.Contains(msg, resultKey) {
		return &protocol.Error{Code: protocol.CodeInternal, Message: string(msg)}
	}
	return nil
}

const benchContact = `{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}}`

// BenchmarkRoundTrip is one widget call through the bridge and back over a
// real loopback WebSocket (client and bridge in this process: allocs/op
// count both sides).
func BenchmarkRoundTrip(b *testing.B) {
	for _, bc := range []struct{ name, method, params string }{
		{"getmode", protocol.MethodGetMode, `{}`},
		{"createrecord", protocol.MethodCreateRecord, benchContact},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := benchDial(b, benchBridge(b))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.roundTrip(bc.method, bc.params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRoundTripParallel runs createrecord round trips from
// GOMAXPROCS×p goroutines, each its own widget session (-cpu or
// SetParallelism change the session count).
func BenchmarkRoundTripParallel(b *testing.B) {
	url := benchBridge(b)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
		cancel()
		if err != nil {
			b.Error(err)
			return
		}
		defer ws.CloseNow()
		c := &benchConn{ws: ws}
		for pb.Next() {
			if err := c.roundTrip(protocol.MethodCreateRecord, benchContact); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
