// Package enreach is the Enreach REST API (EnreachAPI, formerly BeneAPI)
// upstream behind enreach.executeQuery and enreach.setANumber (README "Configuration").
//
// Entry points:
//
//   - New(Config) validates the configuration and returns a *Client.
//   - (*Client).ExecuteQuery serves enreach.executeQuery {query, postData?,
//     method?}: GET when postData is null or absent, POST otherwise, method
//     overrides. The query is a path relative to Config.BaseURL; a scheme,
//     host, "//", "..", backslash or control character is refused with -32602.
//   - (*Client).SetANumber serves enreach.setANumber {aNumber}: the user id
//     comes from GET /users/me (once per credential), then
//     POST /users/{userId}/features/cli/activate/ with Config.ANumberBody.
//
// Both take the session's Enreach token (from bridge.hello); when present it
// is sent as a bearer token, otherwise Basic auth with Config.User and
// Config.Secret. The result is the parsed JSON body (a JSON string when the
// body is not JSON, null when empty). An upstream non-2xx answer is -32006
// with data {status, body} (body truncated); a network error or timeout is
// -32006 with status 0. Credentials never appear in a log line or an error.
//
// The package imports only protocol: the daemon wires the methods with
// Server.HandleMethod (cmd/cifbridge/serve_enreach.go).
package enreach
