package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// Full mode: the replayer is the session's host peer. Each cif.* call the
// bridge sends is matched to the first unused captured backend attempt with
// the same method and params (under the comparison rules), and answered with
// that attempt's captured answer after its captured latency (backend out →
// in), unscaled, so timeouts, retries and late answers happen again.

func (r *runner) dialHost(ctx context.Context) error {
	u := "ws" + strings.TrimPrefix(r.admin.Base, "http") + protocol.PathHost
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := client.DialRaw(dctx, u, r.dialOptions())
	if err != nil {
		return fmt.Errorf("host: %w", err)
	}
	r.host = ws
	r.write(ctx, ws, []byte(`{"jsonrpc":"2.0","id":"replay-host","method":"host.hello","params":{"sessions":"*","name":"cifbridge replay"}}`))
	for {
		b, err := ws.Read(dctx)
		if err != nil {
			ws.CloseNow()
			return fmt.Errorf("host.hello: %w", err)
		}
		w, _ := parseWire(b)
		if string(w.ID) != `"replay-host"` {
			continue
		}
		if len(w.Error) > 0 {
			ws.CloseNow()
			return fmt.Errorf("host.hello: %s", w.Error)
		}
		break
	}
	r.wg.Add(1)
	go r.readLoop(ctx, r.host, r.hostReceived)
	return nil
}

// hostReceived answers a call the bridge sends the host peer; anything
// else is not the host peer's business.
func (r *runner) hostReceived(ctx context.Context, b []byte) {
	if w, ok := parseWire(b); ok && w.Method != "" && len(w.ID) > 0 {
		r.hostCall(ctx, w, b)
	}
}

func (r *runner) hostCall(ctx context.Context, w wire, raw []byte) {
	var params map[string]json.RawMessage
	_ = json.Unmarshal(w.Params, &params)
	delete(params, "session")
	live, _ := json.Marshal(params)

	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.signal()
	var pick *backendCall
	var diffs []Diff
	for _, bc := range r.calls {
		if bc.used || bc.method != w.Method {
			continue
		}
		d := r.m.compare(orEmpty(bc.params), live, false)
		if len(d) == 0 {
			pick, diffs = bc, nil
			break
		}
		if pick == nil {
			pick, diffs = bc, d
		}
	}
	if pick == nil {
		r.rep.Extra = append(r.rep.Extra, Extra{What: describe(kindBackend, w.Method), Got: raw})
		r.answerLater(ctx, r.host, 0, protocol.AppendResponse(nil, w.ID, nil,
			protocol.Errorf(protocol.CodeBackend, "replay: the capture has no further backend answer for %s", w.Method)), nil)
		return
	}
	pick.used = true
	if diffs == nil {
		diffs = r.m.compare(orEmpty(pick.params), live, true)
	}
	if len(diffs) == 0 {
		r.rep.Matched++
	} else {
		for i := range diffs {
			diffs[i].Path = "params." + diffs[i].Path
		}
		r.rep.Diverged = append(r.rep.Diverged, Divergence{Frame: pick.out.Where(), What: describe(kindBackend, w.Method), Diffs: diffs, Got: append(json.RawMessage(nil), raw...)})
	}
	if pick.in == nil {
		return // never answered in the capture
	}
	aw, _ := parseWire(pick.in.Msg)
	r.answerLater(ctx, r.host, pick.in.T.Sub(pick.out.T), r.m.substitute(rebuildResponse(w.ID, aw)), nil)
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("{}")
	}
	return b
}
