// Package client connects Go programs to a cifbridge endpoint as a widget or
// a host peer. It runs github.com/sourcegraph/jsonrpc2 over a coder/websocket
// connection, one JSON-RPC object per text message (see
// docs/jsonrpc-library.md for why this ObjectStream and not the library's
// own stream types).
//
// Entry points: Dial, and NewStream for callers that dial themselves.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/sourcegraph/jsonrpc2"

	"github.com/cifbridge/cifbridge/protocol"
)

// Options configure Dial. A nil *Options means the defaults.
type Options struct {
	// Token is sent as "Authorization: Bearer <token>" when set.
	Token string
	// Header adds request headers (e.g. Origin).
	Header http.Header
	// ReadLimit is the largest message accepted. Default 8 MiB.
	ReadLimit int64
	// WriteTimeout bounds one write. Default 10 s.
	WriteTimeout time.Duration
	// HTTPClient dials the WebSocket (tests use it for in-memory pipes).
	HTTPClient *http.Client
}

// Dial connects to url (ws://host:port/v1/widget or /v1/host) and serves
// requests from the bridge (events for widgets, cif.* calls for hosts) with
// h, which may be nil. Close the returned Conn to disconnect.
func Dial(ctx context.Context, url string, h jsonrpc2.Handler, opts *Options) (*jsonrpc2.Conn, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	hdr := http.Header{}
	for k, v := range o.Header {
		hdr[k] = v
	}
	if o.Token != "" {
		hdr.Set("Authorization", "Bearer "+o.Token)
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{protocol.Subprotocol},
		HTTPHeader:   hdr,
		HTTPClient:   o.HTTPClient,
	})
	if err != nil {
		return nil, err
	}
	if h == nil {
		h = jsonrpc2.HandlerWithError(func(ctx context.Context, c *jsonrpc2.Conn, r *jsonrpc2.Request) (any, error) {
			return nil, &jsonrpc2.Error{Code: protocol.CodeMethodNotFound, Message: "this client serves no requests"}
		})
	}
	return jsonrpc2.NewConn(context.Background(), NewStream(ws, &o), jsonrpc2.AsyncHandler(h)), nil
}

// Stream is a jsonrpc2.ObjectStream over a WebSocket: one object per text
// message, bounded writes, normal closes reported as io.EOF.
type Stream struct {
	ws           *websocket.Conn
	writeTimeout time.Duration
}

// NewStream wraps ws. opts may be nil.
func NewStream(ws *websocket.Conn, opts *Options) *Stream {
	s := &Stream{ws: ws, writeTimeout: 10 * time.Second}
	limit := int64(8 << 20)
	if opts != nil {
		if opts.WriteTimeout > 0 {
			s.writeTimeout = opts.WriteTimeout
		}
		if opts.ReadLimit > 0 {
			limit = opts.ReadLimit
		}
	}
	ws.SetReadLimit(limit)
	return s
}

// WriteObject sends obj as one text message.
func (s *Stream) WriteObject(obj any) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout)
	defer cancel()
	return s.ws.Write(ctx, websocket.MessageText, b)
}

// ReadObject reads the next message into v.
func (s *Stream) ReadObject(v any) error {
	typ, b, err := s.ws.Read(context.Background())
	if err != nil {
		switch websocket.CloseStatus(err) {
		case websocket.StatusNormalClosure, websocket.StatusGoingAway:
			return io.EOF
		}
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return err
	}
	if typ != websocket.MessageText {
		return errors.New("cifbridge sent a binary message")
	}
	return json.Unmarshal(b, v)
}

// Close closes the WebSocket with a normal closure.
func (s *Stream) Close() error { return s.ws.Close(websocket.StatusNormalClosure, "") }
