package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/protocol"
)

// Defaults of Options.
const (
	DefaultReadLimit    = 16 << 20 // bytes; a large search result fits
	DefaultWriteTimeout = 10 * time.Second
	DefaultReconnectMin = 100 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
)

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
		d.Header = o.Header.Clone()
	}
	if d.ReadLimit <= 0 {
		d.ReadLimit = DefaultReadLimit
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = DefaultWriteTimeout
	}
	if d.Client == "" {
		d.Client = "cifbridge-go"
	}
	if d.ReconnectMin <= 0 {
		d.ReconnectMin = DefaultReconnectMin
	}
	if d.ReconnectMax < d.ReconnectMin {
		d.ReconnectMax = max(DefaultReconnectMax, d.ReconnectMin)
	}
	return d
}

// RawConn is a WebSocket to a bridge endpoint without a JSON-RPC engine:
// one frame is one text message. Write is safe for concurrent use; only one
// goroutine may read.
type RawConn struct {
	ws *websocket.Conn
}

// DialRaw opens a WebSocket to url (ws://host:port/v1/widget or /v1/host)
// with subprotocol cifbridge.v1 and the Token, Header, ReadLimit and
// HTTPClient of opts, which may be nil. ctx bounds the handshake only.
func DialRaw(ctx context.Context, url string, opts *Options) (*RawConn, error) {
	o := opts.withDefaults()
	hdr := o.Header
	if hdr == nil {
		hdr = http.Header{}
	}
	if o.Token != "" {
		hdr.Set("Authorization", "Bearer "+o.Token)
	}
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols:    []string{protocol.Subprotocol},
		HTTPHeader:      hdr,
		HTTPClient:      o.HTTPClient,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, dialError(url, resp, err)
	}
	ws.SetReadLimit(o.ReadLimit)
	return &RawConn{ws: ws}, nil
}

// dialError says why a handshake failed; the bridge's HTTP refusals carry
// {"error":{"code","message"}}, which becomes the *protocol.Error.
func dialError(url string, resp *http.Response, err error) error {
	if resp != nil && resp.Body != nil && resp.StatusCode >= 400 {
		var body struct {
			Error *protocol.Error `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &body) == nil && body.Error != nil {
			return fmt.Errorf("dial %s: %s: %w", url, resp.Status, body.Error)
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			return fmt.Errorf("dial %s: %s: %.200s: %w", url, resp.Status, b, err)
		}
	}
	return fmt.Errorf("dial %s: %w", url, err)
}

// Write sends frame as one text message. ctx bounds the write; when it
// ends mid-write the connection is closed (coder/websocket's rule).
func (c *RawConn) Write(ctx context.Context, frame []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

// Read returns the next message. A normal closure (1000, 1001) is io.EOF.
func (c *RawConn) Read(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.ReadInto(ctx, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadInto replaces buf's content with the next message, reusing its
// memory: the load tool reads every answer this way. A normal closure is
// io.EOF; a binary message is an error.
func (c *RawConn) ReadInto(ctx context.Context, buf *bytes.Buffer) error {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return readError(err)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return readError(err)
	}
	if typ != websocket.MessageText {
		return errors.New("the bridge sent a binary message")
	}
	return nil
}

func readError(err error) error {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return io.EOF
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}

// Close closes with a normal closure and reason, waiting up to 5 s for the
// bridge's close frame.
func (c *RawConn) Close(reason string) error {
	return c.ws.Close(websocket.StatusNormalClosure, reason)
}

// CloseNow closes the socket without the closing handshake.
func (c *RawConn) CloseNow() error { return c.ws.CloseNow() }

// CloseStatus is the WebSocket close code in err (-1 when none): e.g. 1008
// when the bridge refused a session, 1009 for a message over its limit.
func CloseStatus(err error) int { return int(websocket.CloseStatus(err)) }
