package backend_test

import (
	"encoding/json"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestParamsUsesTypedWhenItMatches(t *testing.T) {
	typed := &protocol.CreateRecordParams{EntityName: "contact", Value: json.RawMessage(`{"a":1}`)}
	// The raw params say something else on purpose: Typed must win.
	call := backend.Call{Params: json.RawMessage(`{"entityName":"account","value":{}}`), Typed: typed}
	p, err := backend.Params[protocol.CreateRecordParams](call)
	if err != nil || p != typed {
		t.Fatalf("got %+v, %v; want the typed params", p, err)
	}
	// A different type (or none) decodes the raw params.
	call.Typed = &protocol.RecordParams{}
	p, err = backend.Params[protocol.CreateRecordParams](call)
	if err != nil || p.EntityName != "account" {
		t.Fatalf("got %+v, %v; want the decoded raw params", p, err)
	}
	call.Typed, call.Params = nil, json.RawMessage(`{"entityName":"x","bogus":1}`)
	if _, err := backend.Params[protocol.CreateRecordParams](call); protocol.AsError(err).Code != protocol.CodeInvalidParams {
		t.Fatalf("unknown member: got %v, want -32602", err)
	}
}
