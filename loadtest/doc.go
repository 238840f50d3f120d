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
//     as dropped instead of silently delayed. One pacer keeps the send times
//     (on Linux it sleeps on a timerfd, precise to tens of microseconds; the
//     runtime's timers wait in whole milliseconds when the client is idle)
//     and releases each send to its session's sender goroutine;
//   - closed loop (Config.Closed): each session keeps Config.InFlight calls
//     outstanding and sends the next one when an answer arrives.
//
// Latency goes into HdrHistogram (1 µs .. 120 s, 3 significant figures).
// Ground truth comes from the emulator's admin API
// (GET /api/v1/emulator/stats before and after the run), so timeouts, late
// answers and duplicate records are checked against what really happened.
// With several Config.URLs (the nodes of a cluster) sessions are spread
// over them round-robin and the ground truth is read from the first one
// whose bridge serves the emulator: one emulator executes every node's
// calls, so the checks hold across nodes.
//
// Duplicates come from what the bridge tells the widget, read with the
// bridge's own types: a cif.createrecord answered -32000 and its bridge.late
// (matched to the widget's call by request id, since bridge.late names the
// backend attempt's method, which an enreach.xrm create's attempts share);
// for enreach.xrm.createRecord and execute CRUD Creates, the ledgerId of the
// answer (protocol.XrmCreateResult, or protocol.ExhaustedData of a -32005) and
// the newest bridge.ledger push of each entry (protocol.LedgerEntry: status,
// recordIds, attempts). After the drain the run waits, up to
// Config.LateWait, until no known entry has an attempt still awaiting its
// late answer and, when the bridge's admin API answers, until its sessions
// (each asks its id with bridge.hello) have received every bridge.late the
// bridge owes them (GET /api/v1/sessions?scope=local of each URL,
// lateCounts): the retry engine's
// update and retrieve attempts leave no ledger entry to wait on.
//
// Entry points: Config, ParseMix, Run, Report (WriteText, WriteHTML).
//
// Sessions dial with client.DialRaw and write and read frames themselves
// (one reused buffer each way, no allocation per call), so that the figures
// are the bridge's and not a JSON-RPC engine's; the admin API is read with
// client.Admin. The package imports only protocol and client of cifbridge
// (client's TestToolImports keeps it so).
package loadtest
