package loadtest

import (
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// TestHandleReadsEveryAnswer feeds the reader what a bridge sends, and what
// a broken one might: each answer is matched to its call by id, counted by
// code, and a create's id joins the session's pool; anything that is not
// one valid JSON-RPC 2.0 object is a bad frame, an answer to no call is
// unmatched, and neither touches the calls still pending.
func TestHandleReadsEveryAnswer(t *testing.T) {
	r := &runner{stats: newStats(1), shared: &idPool{}}
	s := &session{r: r, sh: r.stats.shards[0], g: newGen(1, 0, r.shared, 0),
		pending: map[uint64]pendingCall{}, timedOut: map[uint64]string{}}
	for id := uint64(1); id <= 5; id++ {
		s.pending[id] = pendingCall{method: protocol.MethodCreateRecord, phase: phaseMeasured}
	}
	for _, frame := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"entityType":"contact","id":"6f1c7a2e-3b1d-4c9e-9a51-2b7d0c4e8f11"}}`,
		`{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"timed out"}}`,
		`{"jsonrpc":"2.0","id":3,"result":{"entityType":"phonecall","id":"0b8e3f52-8c1a-4d0e-b1f4-5a2c9d7e6f30"}}`,
		// Bad frames: none of them may settle call 4 or 5.
		`not json`,
		`[{"jsonrpc":"2.0","id":4,"result":null}]`,
		`{"jsonrpc":"2.0","id":4,"result":null,"error":{"code":-32000,"message":"both"}}`,
		`{"jsonrpc":"1.0","id":5,"result":null}`,
		`{"jsonrpc":"2.0","id":5}`,
		// An id this client never sends (its ids are decimal): bad too.
		`{"jsonrpc":"2.0","id":"x","result":null}`,
		// An answer to no call of this session.
		`{"jsonrpc":"2.0","id":99,"result":null}`,
	} {
		s.handle([]byte(frame))
	}
	if got := r.badFrames.Load(); got != 6 {
		t.Errorf("bad frames %d, want 6", got)
	}
	if got := r.unmatched.Load(); got != 1 {
		t.Errorf("unmatched %d, want 1 (id 99)", got)
	}
	if _, ok := s.pending[4]; !ok {
		t.Error("call 4 settled by a bad frame")
	}
	if _, ok := s.pending[5]; !ok {
		t.Error("call 5 settled by a bad frame")
	}
	if len(s.pending) != 2 {
		t.Errorf("pending %v, want calls 4 and 5", s.pending)
	}
	c := s.sh.totals[protocol.MethodCreateRecord]
	if c == nil || c.Answered != 3 || c.OK != 2 || c.Timeouts != 1 {
		t.Fatalf("counts %+v, want 3 answered, 2 ok, 1 timeout", c)
	}
	if got := s.timedOut[2]; got != protocol.MethodCreateRecord {
		t.Errorf("timed-out call 2 kept as %q", got)
	}
	if id, ok := s.g.contacts.take(); !ok || id != "6f1c7a2e-3b1d-4c9e-9a51-2b7d0c4e8f11" {
		t.Errorf("contact pool: %q, %v", id, ok)
	}
	if id, ok := s.g.phonecalls.take(); !ok || id != "0b8e3f52-8c1a-4d0e-b1f4-5a2c9d7e6f30" {
		t.Errorf("phonecall pool: %q, %v", id, ok)
	}
}
