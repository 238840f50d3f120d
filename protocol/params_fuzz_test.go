package protocol_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// paramsTargets are every params type a client (widget or host peer)
// sends, each decoded as the bridge does.
var paramsTargets = []func() any{
	func() any { return new(protocol.HelloParams) },
	func() any { return new(protocol.RecordParams) },
	func() any { return new(protocol.CreateRecordParams) },
	func() any { return new(protocol.RetrieveRecordParams) },
	func() any { return new(protocol.UpdateRecordParams) },
	func() any { return new(protocol.SearchParams) },
	func() any { return new(protocol.EntityMetadataParams) },
	func() any { return new(protocol.ValueParams) },
	func() any { return new(protocol.EventParams) },
	func() any { return new(protocol.HostHelloParams) },
	func() any { return new(protocol.RaiseEventParams) },
	func() any { return new(protocol.XrmCreateParams) },
	func() any { return new(protocol.XrmUpdateParams) },
	func() any { return new(protocol.XrmRetrieveParams) },
	func() any { return new(protocol.XrmExecuteParams) },
	func() any { return new(protocol.ExecuteQueryParams) },
	func() any { return new(protocol.SetANumberParams) },
}

// FuzzDecodeParams: for every params type, DecodeParams never panics and
// every refusal is a -32602 with a message; the record helpers the
// handlers apply next (NormalizeObject, DecodeXrmCRUDData, BoundTarget)
// hold the same promise.
func FuzzDecodeParams(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, ``, `[]`, `"x"`, `{"entityName":"contact","value":{"firstname":"Aino"}}`,
		`{"entityName":"contact","value":"{\"firstname\":\"Aino\"}"}`,
		`{"entityName":"contact","entityId":"9b2f6a1e-4c1d-4f7e-9a7b-2d3c4e5f6a7b","queryParameters":"?$select=fullname"}`,
		`{"session":"s1","profile":"cif2","client":"softphone/1","enreachToken":"t"}`,
		`{"sessions":"*","name":"host"}`, `{"sessions":["s1","s2"]}`,
		`{"session":"s1","eventType":"onclicktoact","eventData":{"value":"+358401234567"}}`,
		`{"entityLogicalName":"contact","data":{"lastname":"x"},"maxRetries":3,"delay":1000,"idempotent":true}`,
		`{"data":{"@odata.type":"Microsoft.Dynamics.CRM.contact"},"metaData":{"operationType":2,"operationName":"Create","boundParameter":null}}`,
		`{"query":"/users/me?x=a b","postData":{"a":1},"method":"POST"}`, `{"aNumber":"+358401234567"}`,
		`{"maxRetries":-1,"delay":1e99}`, `{"value":{"value":{"value":1}}}`, `{"Value":1,"value":2}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		for _, target := range paramsTargets {
			v := target()
			checkRefusal(t, "DecodeParams", protocol.DecodeParams(params, v))
		}
		if !json.Valid(params) {
			return // the helpers below get a member of params already parsed
		}
		if obj, err := protocol.NormalizeObject("value", params); err == nil && !json.Valid(obj) {
			t.Fatalf("NormalizeObject accepted %q as %q, not JSON", params, obj)
		} else {
			checkRefusal(t, "NormalizeObject", err)
		}
		if _, err := protocol.DecodeXrmCRUDData(params); err != nil {
			checkRefusal(t, "DecodeXrmCRUDData", err)
		}
		if _, err := protocol.BoundTarget(params, "entity"); err != nil {
			checkRefusal(t, "BoundTarget", err)
		}
	})
}

func checkRefusal(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidParams || pe.Message == "" {
		t.Fatalf("%s refused with %v (%T), want a -32602 with a message", what, err, err)
	}
}

// FuzzDecodeValidParams: on every valid JSON text, DecodeValidParams gives
// exactly what DecodeParamsAliased gives (the same params, byte for byte,
// or the same error), for every params type.
func FuzzDecodeValidParams(f *testing.F) {
	for _, s := range []string{
		`{"entityName":"contact","value":{"firstname":"Aino"}}`, `{"entityName":"contact","value":"{\"a\":1}"}`,
		`{"entityName":"contact","entityId":"x","value":{}}`, `{"entityName":"contact","entityId":"x","queryParameters":"?$select=a"}`,
		`{"entityName":"c\u006fntact","value":{}}`, `{"entityname":"contact"}`, `{"entityName":"a","entityName":"b"}`,
		`{"entityName":1}`, `{"entityName":null,"value":null}`, `{"value":[1]}`, `{"value":true}`, `{"x":1}`, `{}`, `null`, `[]`,
		"{\"entityName\":\"\xff\"}", `{"entity\u004eame":"contact","value":{}}`, ` {"entityName" : "contact" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		if !json.Valid(params) {
			return // the contract: params are a member of a frame Decode accepted
		}
		decodeValidAsAliased(t, params, params, nil)
		checkRequestParams(t, params)
	})
}

// decodeValidAsAliased decodes params into every params type with
// DecodeParamsAliased (want) and DecodeValidParams (got), fails t where the
// two differ (error text or value, params named by label), and hands the
// pairs both decoded alike to same, when given.
func decodeValidAsAliased(t testing.TB, params, label []byte, same func(want, got any)) {
	t.Helper()
	for _, target := range paramsTargets {
		want, got := target(), target()
		wantErr := protocol.DecodeParamsAliased(params, want)
		gotErr := protocol.DecodeValidParams(params, got)
		switch {
		case (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error():
			t.Errorf("%T of %q: error %v, the validating decoder's %v", got, label, gotErr, wantErr)
		case wantErr != nil:
		case !reflect.DeepEqual(want, got):
			t.Errorf("%T of %q: %+v, the validating decoder's %+v", got, label, got, want)
		case same != nil:
			same(want, got)
		}
	}
}

// checkRequestParams: for params sent in a request frame, DecodeRequestParams
// of the decoded message gives exactly what DecodeParamsAliased gives, for
// every params type; so does it for a message whose Params was replaced
// after Decode (the members scanFrame recorded then belong to other bytes).
func checkRequestParams(t *testing.T, params []byte) {
	t.Helper()
	frame := append(append([]byte(`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":`), params...), '}')
	d := protocol.Decode(frame)
	if d.ParseError != nil || len(d.Messages) != 1 || d.Messages[0].Kind != protocol.KindRequest {
		return // params that are not an object or an array make an invalid request
	}
	m := d.Messages[0]
	replaced := m
	replaced.Params = append(json.RawMessage(nil), m.Params...)
	replaced.Params = append(replaced.Params[:0:0], []byte(`{"entityName":"account","entityId":"y","value":{"b":2}}`)...)
	for _, msg := range []*protocol.Message{&m, &replaced} {
		for _, target := range paramsTargets {
			want, got := target(), target()
			wantErr := protocol.DecodeParamsAliased(msg.Params, want)
			gotErr := protocol.DecodeRequestParams(msg, got)
			if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
				t.Fatalf("DecodeRequestParams %T of %q: error %v, the validating decoder's %v", got, msg.Params, gotErr, wantErr)
			}
			if wantErr == nil && !reflect.DeepEqual(want, got) {
				t.Fatalf("DecodeRequestParams %T of %q: %+v, the validating decoder's %+v", got, msg.Params, got, want)
			}
		}
	}
}

// TestDecodeRequestParams runs checkRequestParams on params of every
// shape the members scanFrame records can take: the record calls' own,
// more members than it records, escapes, duplicates, nested values.
func TestDecodeRequestParams(t *testing.T) {
	for _, params := range []string{
		`{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen"}}`,
		`{ "entityName" : "contact" , "value" : "{\"a\":1}" }`,
		`{"entityName":"contact","entityId":"x","value":{"a":{"b":[1,{"c":2}]}}}`,
		`{"entityName":"contact","entityId":"x","queryParameters":"?$select=a"}`,
		`{"entityName":"contact","entityId":"x"}`,
		`{"entityName":"contact","entityId":"x","queryParameters":"q","value":{}}`, // four members: not recorded
		`{"entityName":"contact","entityId":"x","value":{}}`,                       // three, one unknown to some types
		`{"entityName":"contact","value":{},"x":1}`,
		`{"entityName":"c\u006fntact","value":{}}`, `{"entity\u004eame":"contact","value":{}}`,
		`{"entityName":"a","entityName":"b"}`, `{"entityName":1}`, `{"entityName":null,"value":null}`,
		`{"value":[1]}`, `{"value":true}`, `{"x":1}`, `{}`, `[]`, `[{"entityName":"contact"}]`, `null`, `"x"`,
		"{\"entityName\":\"\xff\"}", `{"entityName":"contact","value":{"entityName":"nested"}}`,
		`{"entityname":"contact","value":{}}`,
	} {
		checkRequestParams(t, []byte(params))
	}
}
