package bridge

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// streamInterval is how often StreamHandler sends a snapshot.
const streamInterval = time.Second

// streamWriteTimeout bounds every write of the stream. A dashboard that stops
// reading fills the TCP window; without a deadline its handler would sit in
// Write forever (serve sets no http.Server WriteTimeout, which would also cut
// the stream itself) and http.Server.Shutdown would wait for it.
const streamWriteTimeout = 10 * time.Second

// streamWriteTimeoutTest, when positive, replaces streamWriteTimeout: tests
// shorten it (atomic, since other tests' handlers may still be finishing).
var streamWriteTimeoutTest atomic.Int64

// Bounds on one snapshot, so a loaded bridge (thousands of sessions and
// attempts) still streams a small event every second. Sessions: the busiest
// (in-flight, then late attempts) and then the newest, with the total in
// SessionsTotal. Attempts: those nearest their deadline (in-flight) or
// longest overdue (late); every session still has its full counts.
const (
	streamMaxSessions = 200
	streamMaxAttempts = 500
)

// StreamHandler serves Server-Sent Events (text/event-stream) for the
// dashboard: a "snapshot" event (protocol.StreamSnapshot) at once and then
// every second; times are the server's, LeftMs and OverdueMs computed at Now
// so a client with a skewed clock still counts down right. It ends when the
// client goes away or the server drains. Mount it under /api/ so it needs
// the admin token (browsers' EventSource cannot set headers: ?access_token=
// works).
func (s *Server) StreamHandler() http.Handler {
	return http.HandlerFunc(s.serveStream)
}

func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// Tell EventSource to reconnect quickly after a restart of the daemon.
	if err := writeStream(w, rc, []byte("retry: 2000\n\n")); err != nil {
		return
	}
	tick := time.NewTicker(streamInterval)
	defer tick.Stop()
	for {
		if err := s.writeSnapshot(w, rc); err != nil {
			return // the client went away or stopped reading
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.base.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Server) writeSnapshot(w http.ResponseWriter, rc *http.ResponseController) error {
	b, err := json.Marshal(s.snapshot(time.Now()))
	if err != nil {
		s.log.Error().Err(err).Msg("encode stream snapshot")
		return err
	}
	buf := make([]byte, 0, len(b)+32)
	buf = append(buf, "event: snapshot\ndata: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	return writeStream(w, rc, buf)
}

// writeStream writes and flushes b within streamWriteTimeout. An error (the
// deadline passed, the client is gone, or the writer cannot take a deadline)
// ends the stream.
func writeStream(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	d := streamWriteTimeout
	if t := streamWriteTimeoutTest.Load(); t > 0 {
		d = time.Duration(t)
	}
	if err := rc.SetWriteDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}

// snapshot lists the attempt tables once and groups them by session, so a
// snapshot costs O(sessions + attempts) however many sessions there are.
func (s *Server) snapshot(now time.Time) protocol.StreamSnapshot {
	inflight, nIn := groupAttempts(s.table.InFlight(""), func(i correlation.Info) protocol.StreamAttempt {
		return protocol.StreamAttempt{AttemptInfo: i.Wire(), ElapsedMs: now.Sub(i.Started).Milliseconds(), LeftMs: max(i.Deadline.Sub(now).Milliseconds(), 0)}
	})
	late, nLate := groupAttempts(s.table.Late(""), func(i correlation.Info) protocol.StreamAttempt {
		return protocol.StreamAttempt{AttemptInfo: i.Wire(), ElapsedMs: now.Sub(i.Started).Milliseconds(), OverdueMs: max(now.Sub(i.Deadline).Milliseconds(), 0)}
	})
	all := s.sessions.all()
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if na, nb := nIn[a.ID], nIn[b.ID]; na != nb {
			return na > nb
		}
		if na, nb := nLate[a.ID], nLate[b.ID]; na != nb {
			return na > nb
		}
		return a.Created.After(b.Created)
	})
	snap := protocol.StreamSnapshot{
		Now: now, Version: s.cfg.Version, Backend: s.backend.Name(), Profile: s.cfg.Profile, Node: s.cfg.Node,
		Draining: s.draining.Load(), Hosts: s.hosts.count(), Correlation: s.table.Stats(),
		SessionsTotal: len(all), Sessions: make([]protocol.StreamSession, 0, min(len(all), streamMaxSessions)),
		RecentLate: s.ended.list(),
	}
	for _, x := range all[:min(len(all), streamMaxSessions)] {
		snap.Sessions = append(snap.Sessions, protocol.StreamSession{
			SessionSummary: x.Summary(), InFlight: byStart(inflight[x.ID]), Late: byStart(late[x.ID]),
			InFlightCount: nIn[x.ID], LateCount: nLate[x.ID],
		})
	}
	return snap
}

// groupAttempts keeps the streamMaxAttempts attempts with the earliest
// deadlines (nearest the timeout, or longest overdue) grouped by session, and
// counts every attempt per session.
func groupAttempts(infos []correlation.Info, conv func(correlation.Info) protocol.StreamAttempt) (map[string][]protocol.StreamAttempt, map[string]int) {
	counts := make(map[string]int, len(infos))
	for _, i := range infos {
		counts[i.Session]++
	}
	sort.Slice(infos, func(a, b int) bool { return infos[a].Deadline.Before(infos[b].Deadline) })
	out := map[string][]protocol.StreamAttempt{}
	for _, i := range infos[:min(len(infos), streamMaxAttempts)] {
		out[i.Session] = append(out[i.Session], conv(i))
	}
	return out, counts
}

func byStart(l []protocol.StreamAttempt) []protocol.StreamAttempt {
	if l == nil {
		return []protocol.StreamAttempt{}
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Started.Before(l[j].Started) })
	return l
}
