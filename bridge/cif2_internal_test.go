package bridge

import (
	"encoding/json"
	"testing"
)

// withSession always gives the host peer a JSON object whose "session" is
// the widget's session, and refuses params that name a session themselves.
func TestWithSession(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{``, `{"session":"s1"}`},
		{`{}`, `{"session":"s1"}`},
		{` { } `, `{"session":"s1"}`},
		{`{"a":1}`, `{"session":"s1","a":1}`},
		{`{ "a" : [1, {"b":2}] }`, `{"session":"s1","a":[1,{"b":2}]}`},
		{`{"session":"other","a":1}`, ``},
		{`{"Session":"other"}`, ``},
		{`{"x":{"session":"nested"}}`, `{"session":"s1","x":{"session":"nested"}}`},
	} {
		got, err := withSession(json.RawMessage(tt.in), "s1")
		if tt.want == "" {
			if err == nil {
				t.Errorf("withSession(%s) = %s, want it refused", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("withSession(%s): %v", tt.in, err)
			continue
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Errorf("withSession(%s) = %s: not JSON: %v", tt.in, got, err)
			continue
		}
		json.Unmarshal([]byte(tt.want), &w)
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("withSession(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
