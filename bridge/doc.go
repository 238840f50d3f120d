// Package bridge is the cifbridge daemon: it accepts widget sessions on
// /v1/widget and host peers on /v1/host, correlates every CIF call with the
// session's timeout (package correlation), executes it on a backend (package
// backend and its implementations), and serves the admin REST API, health
// endpoints and metrics.
//
// Entry points: New builds a Server from a Config; Server.Handler is its
// http.Handler; Server.Shutdown drains it. Server.HandleMethod plugs in
// widget methods served outside the core (the retry engine's enreach.xrm.*,
// the Enreach upstream), and Server.Attempt / Server.Notify are what those
// plug-ins use to reach the backend and the widget.
//
// # A request's walk
//
// One widget call, frame to answer (each step names where it lives):
//
//  1. Frame: rpcconn's reader (rpcconn/read.go readLoop) reads one
//     WebSocket text frame; the frame guard (rpcconn/guard.go) has already
//     refused an oversized header before the payload was read.
//  2. Decode: rpcconn.Conn.dispatch decodes it once (protocol.Decode: a
//     single message or a batch, ids and params kept as raw JSON).
//  3. Admission: every call, notification and batch item passes
//     widgetConn.admit (admission.go) in arrival order: drain, call rate,
//     in-flight limit. A refusal is answered at once.
//  4. Session: widgetConn.HandleCall (widget.go) → route: bridge.hello
//     opens or resumes the Session (session.go); a cif.* call goes to
//     widgetConn.cifCall (cif2.go), which validates and decodes its params
//     once (validateCIF, cif.go) into the typed struct the backend uses;
//     enreach.* methods go to the handlers plugged in with HandleMethod.
//  5. Correlation: Server.attemptOn (server.go) builds one
//     correlation.Attempt (id, session, method, typed params, CIF timeout)
//     and runs it through the table (correlation.Table.Do): the attempt is
//     listed in flight, the deadline heap times it, and an answer after the
//     deadline becomes a late record (bridge.late, Server.onLate). A call
//     the backend answers at once (backend.Prompt, widgetConn.inline) runs
//     on the reader itself through Table.DoBegin, with the same deadline
//     rule; an answer the backend has at once is checked against the
//     deadline without registering the attempt (it is never listed).
//  6. Backend: Server.executeOn calls backend.Backend.Execute (the
//     emulator, the Dataverse backend, a host peer, the CIF 2.0 workspace,
//     or a cluster router), capturing the frames when capture is on.
//  7. Answer: rpcconn.Conn.serve encodes the result or the JSON-RPC error
//     (protocol.AppendResponse) and queues it; the writer (rpcconn/write.go,
//     started only when something is queued) sends queued answers in one
//     write, within the connection's send budget.
//
// # Bounds
//
// What one client may cost is bounded: connection caps are checked before
// the upgrade (conns.go), every widget call, notification and batch item
// passes one admission path — drain, call rate, in-flight limit — in the
// order it arrived (admission.go), and each socket's transport limits (send
// budget in bytes, keepalive, read timeout, frame size) live in rpcconn.
package bridge
