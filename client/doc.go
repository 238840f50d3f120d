// Package client is cifbridge's Go client: the one way Go code (the load
// tool, replay, the bench suite, tests, your own widget backends) talks to a
// bridge.
//
// # Entry points
//
//   - Dial connects as a widget: WebSocket with subprotocol "cifbridge.v1",
//     bearer token, bridge.hello (profile, client name), and returns a *Conn
//     with typed methods for the CIF 1.0 calls (CreateRecord, RetrieveRecord,
//     UpdateRecord, DeleteRecord, Search, GetEnvironment, …) and the Enreach
//     calls (ExecuteQuery, SetANumber, XrmCreateRecord, …). Resume dials
//     back into an existing session with its id and resume token.
//   - Options.OnLate and Options.OnLedger receive the bridge.late and
//     bridge.ledger notifications; Options.OnEvent answers the events the
//     bridge raises (cif.onclicktoact, …).
//   - Errors from the bridge are *protocol.Error: use errors.As, or errors.Is
//     with the protocol sentinels (protocol.ErrTimeout, …).
//   - With Options.Reconnect the Conn redials with backoff after the socket
//     drops and resumes its session. A call is never sent twice: one in
//     flight when the socket drops fails with ErrDisconnected, because the
//     bridge may have executed it (a create retried blindly is a duplicate).
//   - Admin reads the REST admin API (/api/v1/…) with typed results.
//   - DialHost connects a host peer (/v1/host) with a jsonrpc2.Handler for
//     the cif.* calls the bridge forwards.
//   - DialRaw is the same dialing (subprotocol, token, read limit) without a
//     JSON-RPC engine, for callers that write frames themselves.
//
// # Engines
//
// Conn and DialHost run github.com/sourcegraph/jsonrpc2 (the project's
// JSON-RPC library) over a coder/websocket connection, one JSON-RPC object
// per text message (Stream): the library's own websocket stream is built
// on gorilla/websocket, which the project does not use.
//
// Three tools use DialRaw instead of Conn, on purpose:
//   - the load tool (loadtest) and the bench suite measure the bridge: their
//     senders append each request into a reused buffer and read each answer
//     into a reused buffer, a few hundred nanoseconds and no allocation per
//     call, where a jsonrpc2 call costs several maps and goroutine hand-offs
//     that would be counted as the bridge's latency;
//   - replay re-sends captured frames byte for byte, including invalid JSON
//     and batches, which no JSON-RPC engine can send.
//
// They share this package's dialing (DialRaw), framing (RawConn: one text
// message per frame, normal closes as io.EOF) and admin client.
package client
