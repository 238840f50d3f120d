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
// What one client may cost is bounded: connection caps are checked before
// the upgrade (conns.go), every widget call, notification and batch item
// passes one admission path — drain, call rate, in-flight limit — in the
// order it arrived (admission.go), and each socket's transport limits (send
// budget in bytes, keepalive, read timeout, frame size) live in rpcconn.
package bridge
