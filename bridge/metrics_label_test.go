package bridge

import "testing"

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
