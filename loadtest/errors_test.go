package loadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/coder/websocket"

	"github.com/cifbridge/cifbridge/protocol"
)

// The report keeps the first error answers in full, but only a few: at
// most maxSamples, at most maxSamplesPerCode of one code (a flood of one
// code leaves room for the others), each message cut to maxSampleText.
func TestReportKeepsTheFirstErrorsBounded(t *testing.T) {
	long := strings.Repeat("é", maxSampleText) // 2 bytes a rune: cut inside
	srv := answeringServer(t, func(msg []byte) []byte {
		var m struct{ ID int64 }
		if json.Unmarshal(msg, &m) != nil {
			return nil
		}
		// Every answer an error: mostly -32001, then one -32602 with a
		// long message and data, then -32000 again and again.
		var e string
		switch {
		case m.ID <= 20:
			e = fmt.Sprintf(`{"code":-32001,"message":"backend unavailable %d"}`, m.ID)
		case m.ID == 21:
			e = `{"code":-32602,"message":"` + long + `","data":{"field":"entityName"}}`
		default:
			e = `{"code":-32000,"message":"timeout"}`
		}
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"error":%s}`, m.ID, e)
	})
	defer srv.Close()
	rep, err := Run(context.Background(), Config{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + protocol.PathWidget, NoGroundTruth: true, SeedRecords: -1,
		Sessions: 1, Closed: true, Duration: 300 * time.Millisecond, Drain: 5 * time.Second, LateWait: time.Millisecond,
		Mix: Mix{{Method: protocol.MethodCreateRecord, Weight: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors < 30 {
		t.Fatalf("%d errors counted, want every answer (at least 30)", rep.Errors)
	}
	got := rep.FirstErrors
	if len(got) != 5 {
		t.Fatalf("%d samples, want 5: %+v", len(got), got)
	}
	want := []struct {
		code int64
		msg  string
	}{{-32001, "backend unavailable 1"}, {-32001, "backend unavailable 2"}, {-32602, ""}, {-32000, "timeout"}, {-32000, "timeout"}}
	for i, w := range want {
		g := got[i]
		if g.Code != w.code || (w.msg != "" && g.Message != w.msg) || g.Method != protocol.MethodCreateRecord || g.Phase != "measured" {
			t.Errorf("sample %d = %+v, want code %d message %q of %s, measured", i, g, w.code, w.msg, protocol.MethodCreateRecord)
		}
		if g.AtSeconds < 0 {
			t.Errorf("sample %d answered at %+.3fs, before the measured phase it is in", i, g.AtSeconds)
		}
	}
	if m := got[2].Message; len(m) > maxSampleText+len("…") || !strings.HasSuffix(m, "…") || !strings.HasPrefix(long, strings.TrimSuffix(m, "…")) {
		t.Errorf("long message kept as %d bytes %q: want it cut at %d bytes on a rune boundary, marked …", len(m), m, maxSampleText)
	}
	if got[2].Data != `{"field":"entityName"}` {
		t.Errorf("data = %q, want the error's data", got[2].Data)
	}
	var b strings.Builder
	rep.WriteText(&b)
	if !strings.Contains(b.String(), "first errors:\n  cif.createrecord -32001 \"backend unavailable 1\" (measured, ") {
		t.Errorf("text report lacks the first errors:\n%s", b.String())
	}
}

// answeringServer serves WebSockets (the widget subprotocol) on loopback:
// each text message is answered with what answer returns for it; a nil
// answer ends the connection.
func answeringServer(t *testing.T, answer func(msg []byte) []byte) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := websocket.Accept(w, req, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, msg, err := c.Read(req.Context())
			if err != nil {
				return
			}
			out := answer(msg)
			if out == nil {
				return
			}
			if err := c.Write(req.Context(), websocket.MessageText, out); err != nil {
				return
			}
		}
	}))
}
