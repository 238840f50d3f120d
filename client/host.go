package client

import (
	"context"
	"io"
	"log"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/cifbridge/cifbridge/protocol"
)

// DialHost connects a host peer to url (ws://host:port/v1/host) and serves
// the bridge's requests (the widgets' cif.* calls, with their session in
// params) with h, concurrently (jsonrpc2.AsyncHandler); a nil h answers
// every request -32601. The caller says host.hello (protocol.MethodHostHello)
// on the returned connection and closes it when done. opts may be nil.
func DialHost(ctx context.Context, url string, h jsonrpc2.Handler, opts *Options) (*jsonrpc2.Conn, error) {
	o := opts.withDefaults()
	rc, err := DialRaw(ctx, url, &o)
	if err != nil {
		return nil, err
	}
	if h == nil {
		h = jsonrpc2.HandlerWithError(func(context.Context, *jsonrpc2.Conn, *jsonrpc2.Request) (any, error) {
			return nil, &jsonrpc2.Error{Code: protocol.CodeMethodNotFound, Message: "this host serves no requests"}
		})
	}
	return jsonrpc2.NewConn(context.Background(), NewStream(rc, &o), jsonrpc2.AsyncHandler(h),
		jsonrpc2.SetLogger(log.New(io.Discard, "", 0))), nil
}
