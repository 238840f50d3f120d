package bridge

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestMethodLabel: labels come only from the known-method table; late
// answers to events are labelled by the known events, anything else is
// "other" (issue 13 item 9).
func TestMethodLabel(t *testing.T) {
	tests := []struct {
		method string
		want   string
	}{
		{"cif.createrecord", "cif.createrecord"},
		{"enreach.xrm.createRecord", "enreach.xrm.createRecord"},
		{"bridge.hello", "bridge.hello"},
		{"xrm.execute", "xrm.execute"},
		{"cif.createSession", "cif.createSession"},
		{"cif.onclicktoact", "cif.onclicktoact"},
		{"cif.onSessionSwitched", "cif.onSessionSwitched"},
		{"cif.onInventedEvent42", "other"},
		{"cif.invented", "other"},
		{"enreach.invented", "other"},
		{"CIF.CREATERECORD", "other"},
		{"", "other"},
	}
	for _, tt := range tests {
		if got := methodLabel(tt.method); got != tt.want {
			t.Errorf("methodLabel(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}

// TestSeriesLabel: the series an answered call touches are its
// methodLabel's, found with one lookup.
func TestSeriesLabel(t *testing.T) {
	m := newMetrics(&Server{})
	for _, method := range []string{"cif.createrecord", "bridge.hello", "xrm.execute", "cif.onclicktoact", "cif.invented", "other", "CIF.CREATERECORD", ""} {
		if got, want := m.series(method).label, methodLabel(method); got != want {
			t.Errorf("series(%q) is labelled %q, want %q", method, got, want)
		}
	}
}

// TestDurationCountsFromTheFrame: a request's duration counts from when its
// frame was read (Message.Received), as its CIF timeout does.
func TestDurationCountsFromTheFrame(t *testing.T) {
	s, _ := emulatorServer(t)
	wc := &widgetConn{s: s, logs: logcap.NewSampler(logSampleInterval)}
	wc.sess.Store(s.sessions.open(protocol.ProfileCIF2, 10*time.Second, nil))
	m := &protocol.Message{Kind: protocol.KindRequest, ID: json.RawMessage("1"), Method: protocol.MethodGetMode, Params: json.RawMessage("{}"),
		Received: time.Now().Add(-3 * time.Second)}
	if _, err := wc.HandleCall(context.Background(), nil, m); err != nil {
		t.Fatal(err)
	}
	if h := durationHistogram(t, s, protocol.MethodGetMode); h.GetSampleCount() != 1 || h.GetSampleSum() < 3 || h.GetSampleSum() > 60 {
		t.Fatalf("duration histogram: %d samples summing to %vs; want one of about 3 s", h.GetSampleCount(), h.GetSampleSum())
	}
}

// durationHistogram reads the request-duration histogram of method.
func durationHistogram(t *testing.T, s *Server, method string) *dto.Histogram {
	t.Helper()
	var got dto.Metric
	if err := s.metrics.duration.WithLabelValues(method).(prometheus.Metric).Write(&got); err != nil {
		t.Fatal(err)
	}
	return got.GetHistogram()
}

// TestDurationEndsAtTheAnswer: a CIF call's duration ends when the
// correlation table had its answer (Sent.Answered, the clock read that
// found it in time), which route returns, rather than at a clock read of
// its own; a call with no such reading is timed to now.
func TestDurationEndsAtTheAnswer(t *testing.T) {
	s, _ := emulatorServer(t)
	wc := &widgetConn{s: s, logs: logcap.NewSampler(logSampleInterval)}
	sess := s.sessions.open(protocol.ProfileCIF2, 10*time.Second, nil)
	wc.sess.Store(sess)
	received := time.Now().Add(-3 * time.Second)
	for _, method := range []string{protocol.MethodGetMode, protocol.MethodCreateRecord} {
		params := json.RawMessage("{}")
		if method == protocol.MethodCreateRecord {
			params = json.RawMessage(`{"entityName":"contact","value":{"firstname":"Ada"}}`)
		}
		m := &protocol.Message{Kind: protocol.KindRequest, ID: json.RawMessage("1"), Method: method, Params: params, Received: received}
		before := time.Now()
		_, answered, err := wc.route(context.Background(), sess, m)
		if err != nil {
			t.Fatal(err)
		}
		if answered.Before(before) || answered.After(time.Now()) {
			t.Errorf("%s: answered at %v, want between %v and now", method, answered, before)
		}
	}

	start := time.Now().Add(-time.Hour)
	s.metrics.observe(protocol.MethodDeleteRecord, start, start.Add(2*time.Second), nil)
	s.metrics.observe(protocol.MethodDeleteRecord, time.Now().Add(-5*time.Second), time.Time{}, nil)
	if h := durationHistogram(t, s, protocol.MethodDeleteRecord); h.GetSampleCount() != 2 || h.GetSampleSum() < 7 || h.GetSampleSum() > 60 {
		t.Fatalf("duration histogram: %d samples summing to %vs; want 2 s (to the answer) and about 5 s (to now)", h.GetSampleCount(), h.GetSampleSum())
	}
}

// TestConnectionMethodCache: the series and CIF spec a connection finds
// for a method (widgetConn.method, which keeps the last one) are the
// method's own whatever was asked before: every label and unknown
// methods, in turns, each twice.
func TestConnectionMethodCache(t *testing.T) {
	s, _ := emulatorServer(t)
	wc := &widgetConn{s: s, logs: logcap.NewSampler(logSampleInterval)}
	names := []string{"cif.invented", "other", "", "CIF.CREATERECORD"}
	for label := range methodLabels {
		names = append(names, label, "cif.invented")
	}
	for _, name := range names {
		for range 2 {
			ms := wc.method(name)
			if ms.label != methodLabel(name) || ms.spec != protocol.CIFMethod(name) || ms.ok == nil || ms.duration == nil {
				t.Fatalf("method(%q) = label %q, spec %v (ok %v); want label %q, spec %v", name, ms.label, ms.spec, ms.ok != nil, methodLabel(name), protocol.CIFMethod(name))
			}
		}
	}
	if last := wc.last.Load(); last == nil || last.label != methodLabel(names[len(names)-2]) {
		t.Fatalf("kept %+v, want the last known method's series", last)
	}
}
