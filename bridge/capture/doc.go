// Package capture writes the daemon's capture files: one JSONL file per
// session in the format of protocol/capture.go (a header line, then one
// line per frame), read back with protocol.CaptureReader.
//
// Entry points: New builds a Capturer from a Config; Capturer.Open starts a
// session's file (nil when the session is filtered out — every *Session
// method is a no-op on nil); Session.Frame appends one message;
// Session.Close and Capturer.Close flush, fsync and close; Redact is the
// credential scrubber applied to every frame. Router hands a bridge's frames
// (bridge.Config.OnFrame, OnSessionEnd) to one Session per session: it
// keeps an ended session's file open for the late answers of its pending
// backend attempts (PendingAttempts) and writes a resuming bridge.hello to
// the resumed session's file, so one session is one file.
//
// # Files
//
// A session's first file is
//
//	<Dir>/<session>-<started, UTC, 20060102T150405Z>.jsonl
//
// where characters of the session id outside [A-Za-z0-9_-] become '_'. If
// that name exists (a session resumed within the same second), "_2", "_3", …
// is appended to the stem. When a file would grow past MaxFileBytes it is
// closed and the next part is <stem>-0001.jsonl, <stem>-0002.jsonl, …; each
// part starts with the session's header again, with "part": 1, 2, … Order
// parts by that header field (lexical order puts "-0001" before ".jsonl").
//
// # Durability
//
// Every frame is one line handed to the OS with a single write (bufio,
// flushed per frame), so a crash of the daemon loses at most the line being
// written, which readers detect as torn and skip. Files are fsynced by one
// background goroutine every SyncInterval, when rotated, and on Close. After
// a write error (disk full) a session stops writing, so a torn line can only
// ever be the last; later frames are counted in Stats.Dropped.
//
// # What a frame holds
//
// msg is the message as it went over the wire after Redact, without
// surrounding whitespace; newlines inside (which valid JSON only has as
// insignificant whitespace) become spaces so the line stays one line. A message that is not valid JSON is scrubbed as text and
// stored as a JSON string with "invalid": true.
package capture
