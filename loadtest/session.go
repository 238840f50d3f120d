package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

const codeTimeout = protocol.CodeTimeout

// pendingCall is one call awaiting its answer.
type pendingCall struct {
	method string
	sched  time.Duration // scheduled send time, since the run's start
	phase  phase
}

// session is one widget WebSocket with its lean JSON-RPC client.
type session struct {
	idx int
	r   *runner
	ws  *client.RawConn
	sh  *shard
	// id is the bridge's session id (bridge.hello), "" when not asked
	// (runner.hello).
	id string

	// sendMu serialises senders (scheduler, seeding, and in the closed loop
	// the reader): it owns g and buf.
	sendMu sync.Mutex
	g      *gen
	buf    []byte

	// mu guards pending, timedOut and next.
	mu      sync.Mutex
	pending map[uint64]pendingCall
	// timedOut holds the method of each call answered -32000 until its
	// bridge.late arrives (see lateCall).
	timedOut map[uint64]string
	next     uint64

	// dec is the reader's decoded message, reused (the reader owns it).
	dec protocol.Decoded

	readDone chan struct{}
	readErr  error
	// unwatch stops the watch that closes the socket when the run's
	// context ends. Reads and writes pass context.Background(): given a
	// context that can end, coder/websocket arms a context.AfterFunc on
	// every frame, which registers with (and locks) the run's one context
	// from every session's reader and writer at once.
	unwatch func() bool
}

// dialSession opens a session; connected is how long the WebSocket took.
func dialSession(ctx context.Context, r *runner, idx int) (s *session, connected time.Duration, err error) {
	t0 := time.Now()
	ws, err := client.DialRaw(ctx, r.cfg.URLs[idx%len(r.cfg.URLs)], &client.Options{Token: r.cfg.Token})
	if err != nil {
		return nil, 0, err
	}
	connected = time.Since(t0)
	s = &session{
		idx:      idx,
		r:        r,
		ws:       ws,
		sh:       r.stats.shards[idx%len(r.stats.shards)],
		g:        newGen(r.cfg.Seed, idx, r.shared, r.pool),
		pending:  map[uint64]pendingCall{},
		timedOut: map[uint64]string{},
		readDone: make(chan struct{}),
	}
	if r.hello {
		if s.id, err = s.helloSession(ctx); err != nil {
			ws.CloseNow()
			return nil, 0, err
		}
	}
	s.unwatch = context.AfterFunc(r.ctx, func() { _ = ws.CloseNow() })
	go s.readLoop()
	return s, connected, nil
}

// helloSession asks the bridge for the session's id (bridge.hello), before
// the read loop starts: the answer is the first message on the socket.
func (s *session) helloSession(ctx context.Context) (string, error) {
	req := `{"jsonrpc":"2.0","id":0,"method":"` + protocol.MethodHello + `","params":{"client":"cifbridge-load"}}`
	if err := s.ws.Write(ctx, []byte(req)); err != nil {
		return "", err
	}
	b, err := s.ws.Read(ctx)
	if err != nil {
		return "", err
	}
	var m struct {
		Result protocol.HelloResult `json:"result"`
		Error  *protocol.Error      `json:"error"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Error != nil || m.Result.Session == "" {
		return "", fmt.Errorf("bridge.hello: unexpected answer %.200s", b)
	}
	return m.Result.Session, nil
}

func (s *session) inflight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// send sends one call scheduled at sched; method "" picks one from the mix.
// The open loop passes a limit: when that many calls are outstanding the
// send is dropped. It reports whether the call went out.
func (s *session) send(method string, sched time.Duration, ph phase, limit int) bool {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if method == "" {
		method = s.r.picker.pick(s.g.r.IntN(s.r.picker.total))
	}
	s.mu.Lock()
	if limit > 0 && len(s.pending) >= limit {
		s.mu.Unlock()
		s.r.dropped.Add(1)
		return false
	}
	s.next++
	id := s.next
	s.pending[id] = pendingCall{method: method, sched: sched, phase: ph}
	s.mu.Unlock()

	b := append(s.buf[:0], `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"method":"`...)
	b = append(b, method...)
	b = append(b, `","params":`...)
	if ph == phaseSeed {
		b = append(b, `{"entityName":"contact","value":`...)
		b = s.g.contactValue(b)
		b = append(b, '}')
	} else {
		b = generators[method](s.g, b)
	}
	b = append(b, '}')
	s.buf = b
	s.sh.sent(method, ph)
	if err := s.ws.Write(context.Background(), b); err != nil {
		s.mu.Lock()
		_, still := s.pending[id]
		delete(s.pending, id)
		s.mu.Unlock()
		if still {
			s.r.sendErrors.Add(1)
		}
		return false
	}
	return true
}

func (s *session) readLoop() {
	defer close(s.readDone)
	var buf bytes.Buffer
	for {
		if err := s.ws.ReadInto(context.Background(), &buf); err != nil {
			s.readErr = err
			return
		}
		s.handle(buf.Bytes())
	}
}

func (s *session) handle(data []byte) {
	now := s.r.since()
	// A response, a notification or an event request, read with the
	// bridge's own decoder (about a fifth of encoding/json's CPU per answer,
	// which counts at tens of thousands of answers a second): anything but
	// one valid JSON-RPC object is a bad frame. Its members are slices of
	// data, used before the next read.
	protocol.DecodeInto(&s.dec, data)
	if s.dec.ParseError != nil || s.dec.Batch || len(s.dec.Messages) != 1 || s.dec.Messages[0].Kind == protocol.KindInvalid {
		s.r.badFrames.Add(1)
		return
	}
	m := &s.dec.Messages[0]
	if m.Method != "" && !s.r.cfg.Echo {
		if len(m.ID) > 0 { // an event request: a widget answers it
			s.sendMu.Lock()
			_ = s.ws.Write(context.Background(), protocol.AppendResponse(nil, m.ID, json.RawMessage("null"), nil))
			s.sendMu.Unlock()
			s.r.events.Add(1)
			return
		}
		s.r.notification(s, m.Method, m.Params)
		return
	}
	id, ok := parseID(m.ID)
	if !ok {
		s.r.badFrames.Add(1)
		return
	}
	var code int64
	if m.Error != nil {
		code = m.Error.Code
		if code == 0 {
			code = protocol.CodeInternal
		}
	}
	s.mu.Lock()
	p, found := s.pending[id]
	delete(s.pending, id)
	if found && code == codeTimeout && !s.r.cfg.Echo {
		s.timedOut[id] = p.method
	}
	s.mu.Unlock()
	if !found {
		s.r.unmatched.Add(1)
		return
	}
	s.sh.answered(p.method, p.phase, now-p.sched, code)
	if m.Error != nil {
		s.r.errorSample(p, now, m.Error.Code, m.Error.Message, m.Error.Data)
	}
	if !s.r.cfg.Echo {
		s.outcome(p, m)
	}
	if s.r.cfg.Closed && p.phase != phaseSeed && s.r.sending.Load() {
		t := s.r.since()
		s.send("", t, s.r.phaseAt(t), 0)
	}
}

// lateCall returns the method of the widget's call a bridge.late names by
// its request id: a call still pending (its late answer overtook its
// -32000) or one answered -32000, forgotten now that its late answer came.
// "" means no such call: an attempt of an enreach.xrm.* call the retry
// engine already answered.
func (s *session) lateCall(requestID json.RawMessage) string {
	id, ok := parseID(requestID)
	if !ok {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pending[id]; ok {
		return p.method
	}
	if m, ok := s.timedOut[id]; ok {
		delete(s.timedOut, id)
		return m
	}
	return ""
}

// outcome feeds id pools and the retry/duplicate counters. The retry
// engine's shapes are read with its own types: protocol.XrmCreateResult for
// a create (enreach.xrm.createRecord, or enreach.xrm.execute, which the load
// tool only sends as a CRUD Create) and protocol.ExhaustedData for -32005.
func (s *session) outcome(p pendingCall, m *protocol.Message) {
	switch p.method {
	case protocol.MethodCreateRecord, protocol.MethodXrmCreateRecord, protocol.MethodXrmExecute:
		if m.Error != nil {
			if m.Error.Code == codeTimeout && p.method == protocol.MethodCreateRecord {
				s.r.lateMu.Lock()
				s.r.cifCreateTimeouts++
				s.r.lateMu.Unlock()
			}
			if id := s.attemptsFromError(m); id != "" {
				s.r.answeredWithLedger(id, false, true)
			}
			return
		}
		var res protocol.XrmCreateResult // a superset of CIF's {entityType, id}
		raw := m.Result
		if len(raw) > 0 && raw[0] == '"' { // CIF's JSON-string shape
			var str string
			if json.Unmarshal(raw, &str) == nil {
				raw = json.RawMessage(str)
			}
		}
		if jsonv2.Unmarshal(raw, &res) != nil || res.ID == "" {
			return
		}
		if res.Attempts > 1 {
			s.r.retries.Add(int64(res.Attempts - 1))
		}
		if res.LedgerID != "" {
			s.r.answeredWithLedger(res.LedgerID, true, res.PossibleDuplicate)
		}
		switch {
		case p.phase == phaseSeed:
			s.r.shared.add(res.ID)
		case res.EntityType == "phonecall":
			s.g.phonecalls.add(res.ID)
		case res.EntityType == "contact":
			s.g.contacts.add(res.ID)
		}
	case protocol.MethodXrmUpdateRecord, protocol.MethodXrmRetrieveRecord:
		if m.Error != nil {
			s.attemptsFromError(m)
			return
		}
		var res protocol.XrmUpdateResult // a retrieve's record has no "attempts": 0
		if json.Unmarshal(m.Result, &res) == nil && res.Attempts > 1 {
			s.r.retries.Add(int64(res.Attempts - 1))
		}
	}
}

// attemptsFromError counts the retries of a -32005 (no attempt succeeded)
// and returns its ledger id: set when an attempt may have created the
// record after all.
func (s *session) attemptsFromError(m *protocol.Message) string {
	if m.Error.Code != protocol.CodeRetriesExhausted || len(m.Error.Data) == 0 {
		return ""
	}
	var d protocol.ExhaustedData
	if json.Unmarshal(m.Error.Data, &d) != nil {
		return ""
	}
	if len(d.Attempts) > 1 {
		s.r.retries.Add(int64(len(d.Attempts) - 1))
	}
	return d.LedgerID
}

// parseID reads the decimal ids this client sends without allocating.
func parseID(raw json.RawMessage) (uint64, bool) {
	if len(raw) == 0 || len(raw) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// close ends the session with a normal closure and waits for its reader.
func (s *session) close() {
	defer s.unwatch()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		_ = s.ws.Close("load run finished")
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = s.ws.CloseNow()
	}
	<-s.readDone
}
