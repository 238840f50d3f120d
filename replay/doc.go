// Package replay re-runs captured cifbridge sessions (DESIGN §8) and
// compares what the bridge answers with what it answered in the capture.
//
// cifbridge replay --embedded runs, per capture, the daemon serve builds
// (cmd/cifbridge); Capture.NeedsLedger says whether a capture needs its
// retry engine and duplicate ledger.
//
// Entry points:
//   - Load reads capture files (daemon or browser-recorder format, rotated
//     parts joined) into Captures; bad input wraps ErrBadInput and names the
//     file and line;
//   - Run replays one Capture against a bridge's widget endpoint: it re-sends
//     the widget's requests with the captured timing (scaled by Speed),
//     raises the captured events through the admin API and answers them as
//     the widget did, and in full mode also plays the host peer with the
//     captured backend answers and latencies. It returns a SessionReport,
//     which for captures that need the ledger also compares each ledger
//     entry's outcome (status, record ids) with the bridge's own ledger;
//     it dials with client.DialRaw (captured frames are re-sent byte for
//     byte, invalid ones included) and reads the admin API with
//     client.Admin;
//   - Compare compares two captures of the same session (round trips);
//   - Rules are the comparison rules (ids, GUIDs, ledger ids, session ids, times,
//     latencies, ignored paths); Report.WriteText renders the outcome.
package replay
