package protocol

import "time"

// OutcomeExpired is an EndedLate outcome: no answer came within the
// late-record window, so the attempt's outcome is unknown.
const OutcomeExpired = "expired"

// EndedLate is a late record that ended, as the dashboard stream lists it
// (StreamSnapshot's recentLate, newest first): its answer came after the CIF
// timeout (Outcome "success" or "failure", LateByMs its own lateness, as
// bridge.late reported it to the widget), or never came within the
// late-record window (Outcome "expired").
type EndedLate struct {
	At           time.Time `json:"at"`
	Session      string    `json:"session"`
	AttemptID    string    `json:"attemptId"`
	Method       string    `json:"method"`
	WidgetMethod string    `json:"widgetMethod,omitempty"`
	// State is what the record was while late: "timedout" or "abandoned".
	State    string `json:"state"`
	Outcome  string `json:"outcome"`
	LateByMs int64  `json:"lateByMs"`
	// Error is the late failure's error (Outcome "failure").
	Error *Error `json:"error,omitempty"`
}
