// Package loadtest drives a cifbridge daemon with many concurrent widget
// sessions and reports what it measured (DESIGN §8).
//
// Each session is its own WebSocket on coder/websocket with a lean
// hand-written JSON-RPC 2.0 client: ids are counters, pending calls sit in one
// map under the session's mutex, and the reader goroutine records every
// answer. Two load models:
//
//   - open loop (Config.Rate): sends are scheduled at fixed times and latency
//     is measured from the scheduled time, so coordinated omission is
//     corrected; a send that cannot go out (the session's in-flight cap is
//     reached, or the generator is more than MaxSendLag behind) is counted
//     as dropped instead of silently delayed;
//   - closed loop (Config.Closed): each session keeps Config.InFlight calls
//     outstanding and sends the next one when an answer arrives.
//
// Latency goes into HdrHistogram (1 µs .. 120 s, 3 significant figures).
// Ground truth comes from the emulator's admin API
// (GET /api/v1/emulator/stats before and after the run), so timeouts, late
// answers and duplicate records are checked against what really happened.
//
// Entry points: Config, ParseMix, Run, Report (WriteText, WriteHTML), and
// EmulatorAdmin for the emulator's admin endpoints.
package loadtest
