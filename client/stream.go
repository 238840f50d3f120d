package client

import (
	"context"
	"encoding/json"
	"time"
)

// Stream is a jsonrpc2.ObjectStream over a RawConn: one object per text
// message, each write bounded by a timeout, normal closes reported as
// io.EOF (which jsonrpc2 does not log as a protocol error).
type Stream struct {
	c            *RawConn
	writeTimeout time.Duration
	// onReadError, when set, sees the error that ended reading (the close
	// frame's code is in it: CloseStatus).
	onReadError func(error)
}

// NewStream wraps c; writes time out after Options.WriteTimeout.
func NewStream(c *RawConn, opts *Options) *Stream {
	o := opts.withDefaults()
	return &Stream{c: c, writeTimeout: o.WriteTimeout}
}

// WriteObject sends obj as one text message.
func (s *Stream) WriteObject(obj any) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout)
	defer cancel()
	return s.c.Write(ctx, b)
}

// ReadObject reads the next message into v.
func (s *Stream) ReadObject(v any) error {
	b, err := s.c.Read(context.Background())
	if err != nil {
		if s.onReadError != nil {
			s.onReadError(err)
		}
		return err
	}
	return json.Unmarshal(b, v)
}

// Close closes the WebSocket with a normal closure.
func (s *Stream) Close() error { return s.c.Close("") }
