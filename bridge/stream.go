package bridge

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/cifbridge/cifbridge/bridge/correlation"
)

// streamInterval is how often StreamHandler sends a snapshot.
const streamInterval = time.Second

// streamMaxSessions bounds the sessions listed in one snapshot: the busiest
// (in-flight, then late attempts) and then the newest come first; the total
// is always in SessionsTotal.
const streamMaxSessions = 200

// StreamSnapshot is one "snapshot" event of GET /api/v1/stream: what the
// dashboard shows live. Times are the server's; LeftMs and OverdueMs are
// computed at Now so a client with a skewed clock still counts down right.
type StreamSnapshot struct {
	Now           time.Time         `json:"now"`
	Version       string            `json:"version"`
	Backend       string            `json:"backend"`
	Profile       string            `json:"profile"`
	Draining      bool              `json:"draining"`
	Hosts         int               `json:"hosts"`
	Correlation   correlation.Stats `json:"correlation"`
	SessionsTotal int               `json:"sessionsTotal"`
	Sessions      []StreamSession   `json:"sessions"`
}

// StreamSession is a session in a snapshot.
type StreamSession struct {
	ID          string          `json:"id"`
	Profile     string          `json:"profile"`
	TimeoutMs   int64           `json:"timeoutMs"`
	Client      string          `json:"client,omitempty"`
	Created     time.Time       `json:"created"`
	Connections int             `json:"connections"`
	InFlight    []StreamAttempt `json:"inflight"`
	Late        []StreamAttempt `json:"late"`
}

// StreamAttempt is an in-flight attempt (LeftMs: time left before the CIF
// timeout) or a late record (OverdueMs: time since the CIF deadline).
type StreamAttempt struct {
	correlation.Info
	ElapsedMs int64 `json:"elapsedMs"`
	LeftMs    int64 `json:"leftMs,omitempty"`
	OverdueMs int64 `json:"overdueMs,omitempty"`
}

// StreamHandler serves Server-Sent Events (text/event-stream) for the
// dashboard: a "snapshot" event (StreamSnapshot) at once and then every
// second. It ends when the client goes away or the server drains. Mount it
// under /api/ so it needs the admin token (browsers' EventSource cannot set
// headers: ?access_token= works).
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
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	tick := time.NewTicker(streamInterval)
	defer tick.Stop()
	for {
		if err := s.writeSnapshot(w, rc); err != nil {
			return // the client went away
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
	if _, err := w.Write(buf); err != nil {
		return err
	}
	return rc.Flush()
}

// snapshot lists the attempt tables once and groups them by session, so a
// snapshot costs O(sessions + attempts) however many sessions there are.
func (s *Server) snapshot(now time.Time) StreamSnapshot {
	inflight := map[string][]StreamAttempt{}
	for _, i := range s.table.InFlight("") {
		a := StreamAttempt{Info: i, ElapsedMs: now.Sub(i.Started).Milliseconds()}
		a.LeftMs = max(i.Deadline.Sub(now).Milliseconds(), 0)
		inflight[i.Session] = append(inflight[i.Session], a)
	}
	late := map[string][]StreamAttempt{}
	for _, i := range s.table.Late("") {
		a := StreamAttempt{Info: i, ElapsedMs: now.Sub(i.Started).Milliseconds()}
		a.OverdueMs = max(now.Sub(i.Deadline).Milliseconds(), 0)
		late[i.Session] = append(late[i.Session], a)
	}
	all := s.sessions.all()
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if na, nb := len(inflight[a.ID]), len(inflight[b.ID]); na != nb {
			return na > nb
		}
		if na, nb := len(late[a.ID]), len(late[b.ID]); na != nb {
			return na > nb
		}
		return a.Created.After(b.Created)
	})
	snap := StreamSnapshot{
		Now: now, Version: s.cfg.Version, Backend: s.backend.Name(), Profile: s.cfg.Profile,
		Draining: s.draining.Load(), Hosts: s.hosts.count(), Correlation: s.table.Stats(),
		SessionsTotal: len(all), Sessions: make([]StreamSession, 0, min(len(all), streamMaxSessions)),
	}
	for _, x := range all[:min(len(all), streamMaxSessions)] {
		profile, timeout := x.Profile()
		x.mu.Lock()
		client := x.client
		x.mu.Unlock()
		snap.Sessions = append(snap.Sessions, StreamSession{
			ID: x.ID, Profile: profile, TimeoutMs: timeout.Milliseconds(), Client: client, Created: x.Created,
			Connections: x.connCount(), InFlight: byStart(inflight[x.ID]), Late: byStart(late[x.ID]),
		})
	}
	return snap
}

func byStart(l []StreamAttempt) []StreamAttempt {
	if l == nil {
		return []StreamAttempt{}
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Started.Before(l[j].Started) })
	return l
}
