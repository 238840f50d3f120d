package protocol_test

import (
	"encoding/json"
	"fmt"
	"strings"
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

func TestXrmCRUDData(t *testing.T) {
	for _, tc := range []struct{ data, entity, id string }{
		{`{"etn":"contact","entityName":"account","id":"x"}`, "contact", "x"},
		{`{"entityName":"account"}`, "account", ""},
		{`{"entityReference":{"entityType":"phonecall","id":"r"}}`, "phonecall", "r"},
		{`{"etn":"contact","entityReference":{"entityType":"phonecall","id":"r"}}`, "contact", "r"},
		{``, "", ""},
	} {
		d, err := protocol.DecodeXrmCRUDData(json.RawMessage(tc.data))
		if err != nil || d.Entity() != tc.entity || d.RecordID() != tc.id {
			t.Errorf("%s: entity %q id %q err %v, want %q %q", tc.data, d.Entity(), d.RecordID(), err, tc.entity, tc.id)
		}
	}
	if _, err := protocol.DecodeXrmCRUDData(json.RawMessage(`[1]`)); protocol.AsError(err).Code != protocol.CodeInvalidParams {
		t.Fatalf("array data: %v", err)
	}
	if r, err := protocol.BoundTarget(json.RawMessage(`{"entityType":"contact","id":"x"}`), "entity"); err != nil || r.EntityType != "contact" || r.ID != "x" {
		t.Fatalf("bound target: %+v %v", r, err)
	}
	for _, raw := range []string{``, `{"id":"x"}`, `"contact"`} {
		if _, err := protocol.BoundTarget(json.RawMessage(raw), "entity"); err == nil || !strings.Contains(err.Error(), `"data.entity"`) {
			t.Errorf("bound target %q: %v", raw, err)
		}
	}
}
