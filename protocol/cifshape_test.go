package protocol_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

func TestIndexedObject(t *testing.T) {
	tests := []struct {
		name string
		recs []json.RawMessage
		want string
	}{
		{name: "none", want: `{}`},
		{name: "one", recs: []json.RawMessage{json.RawMessage(`{"fullname":"Ada"}`)}, want: `{"0":{"fullname":"Ada"}}`},
		{name: "values as they are", recs: []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`null`), json.RawMessage(`"x"`)},
			want: `{"0":{"a":1},"1":null,"2":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(protocol.IndexedObject(tt.recs)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	// Keys in numeric order past one digit, and valid JSON.
	recs := make([]json.RawMessage, 12)
	for i := range recs {
		recs[i] = json.RawMessage(fmt.Sprint(i))
	}
	got := protocol.IndexedObject(recs)
	var m map[string]int
	if err := json.Unmarshal(got, &m); err != nil || len(m) != 12 || m["11"] != 11 {
		t.Fatalf("%s: %v", got, err)
	}
	if want := `{"0":0,"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"11":11}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestSourceFunc(t *testing.T) {
	tests := []struct{ messageType, want string }{
		{"createrecord", "client.createRecord - Xrm.WebApi.createRecord"},
		{"searchandopenrecords", "client.retrieveMultipleRecords - Xrm.WebApi.retrieveMultipleRecords"},
		{protocol.MessageType(protocol.BackendExecute), "client.execute - Xrm.WebApi.online.execute"},
		{protocol.MessageType(protocol.MethodGetEntityMetadata), "client.getEntityMetadata - Xrm.Utility.getEntityMetadata"},
		{"setmode", ""},
	}
	for _, tt := range tests {
		if got := protocol.SourceFunc(tt.messageType); got != tt.want {
			t.Errorf("SourceFunc(%q) = %q, want %q", tt.messageType, got, tt.want)
		}
	}
}
