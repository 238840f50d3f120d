package backend_test

import (
	"encoding/json"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestParamsUsesTypedWhenItMatches(t *testing.T) {
	typed := &protocol.CreateRecordParams{EntityName: "contact", Value: json.RawMessage(`{"a":1}`)}
	// The raw params say something else on purpose: Typed must win.
	a := &correlation.Attempt{Params: json.RawMessage(`{"entityName":"account","value":{}}`), Typed: typed}
	p, err := backend.Params[protocol.CreateRecordParams](a)
	if err != nil || p != typed {
		t.Fatalf("got %+v, %v; want the typed params", p, err)
	}
	// A different type (or none) decodes the raw params.
	a.Typed = &protocol.RecordParams{}
	p, err = backend.Params[protocol.CreateRecordParams](a)
	if err != nil || p.EntityName != "account" {
		t.Fatalf("got %+v, %v; want the decoded raw params", p, err)
	}
	a.Typed, a.Params = nil, json.RawMessage(`{"entityName":"x","bogus":1}`)
	if _, err := backend.Params[protocol.CreateRecordParams](a); protocol.AsError(err).Code != protocol.CodeInvalidParams {
		t.Fatalf("unknown member: got %v, want -32602", err)
	}
}

func TestRawParamsEncodesTypedOnlyWhenNoRaw(t *testing.T) {
	typed := &protocol.RecordParams{EntityName: "contact", EntityID: "00000000-0000-0000-0000-000000000001"}
	a := &correlation.Attempt{Typed: typed}
	raw, err := a.RawParams()
	if err != nil {
		t.Fatal(err)
	}
	var back protocol.RecordParams
	if err := json.Unmarshal(raw, &back); err != nil || back != *typed {
		t.Fatalf("RawParams of typed only = %s (%v); want %+v encoded", raw, err, *typed)
	}
	a.Params = json.RawMessage(`{"entityName":"as-sent"}`)
	if raw, _ := a.RawParams(); string(raw) != `{"entityName":"as-sent"}` {
		t.Fatalf("RawParams with raw params = %s; want them as sent", raw)
	}
}
