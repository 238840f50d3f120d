package protocol_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantKind protocol.Kind
		wantID   string
		// wantParams, when set, is the params exactly as sent.
		wantParams string
		// wantMessage, when set, is part of the -32600's message.
		wantMessage string
		parseErr    int64
	}{
		{name: "request", in: `{"jsonrpc":"2.0","id":1,"method":"m"}`, wantKind: protocol.KindRequest, wantID: "1"},
		{name: "notification", in: `{"jsonrpc":"2.0","method":"m"}`, wantKind: protocol.KindNotification},
		{name: "null id is a request", in: `{"jsonrpc":"2.0","id":null,"method":"m"}`, wantKind: protocol.KindRequest, wantID: "null"},
		{name: "response", in: `{"jsonrpc":"2.0","id":"a","result":{}}`, wantKind: protocol.KindResponse, wantID: `"a"`},
		{name: "error response", in: `{"jsonrpc":"2.0","id":"a","error":{"code":-32000,"message":"x"}}`, wantKind: protocol.KindResponse, wantID: `"a"`},
		{name: "both result and error", in: `{"jsonrpc":"2.0","id":3,"result":1,"error":{"code":1,"message":"x"}}`, wantKind: protocol.KindInvalid, wantID: "3"},
		{name: "bool id", in: `{"jsonrpc":"2.0","id":true,"method":"m"}`, wantKind: protocol.KindInvalid, wantID: "null"},
		{name: "params scalar", in: `{"jsonrpc":"2.0","id":1,"method":"m","params":3}`, wantKind: protocol.KindInvalid, wantID: "1"},
		{name: "empty method", in: `{"jsonrpc":"2.0","id":1,"method":""}`, wantKind: protocol.KindInvalid, wantID: "1"},
		{name: "spaces and escapes kept", in: ` { "jsonrpc" : "2.0" , "id" : "a\"b" , "method" : "m" , "params" : { "x" : [ 1 , 2 ] } } `,
			wantKind: protocol.KindRequest, wantID: `"a\"b"`, wantParams: `{ "x" : [ 1 , 2 ] }`},
		// Member names match exactly and once (issue 13 item 11): parsers
		// that keep the first duplicate, or fold case, would run another call.
		{name: "duplicate member refused", in: `{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}`, wantKind: protocol.KindInvalid, wantID: "null",
			wantMessage: `invalid request: member "id" appears twice`},
		{name: "duplicate member in a batch refused", in: `[{"jsonrpc":"2.0","id":1,"method":"m","method":"n"}]`, wantKind: protocol.KindInvalid, wantID: "null"},
		{name: "upper-case names refused", in: `{"JSONRPC":"2.0","ID":7,"METHOD":"m","PARAMS":{}}`, wantKind: protocol.KindInvalid, wantID: "null",
			wantMessage: "case-sensitive"},
		{name: "Method beside method refused", in: `{"jsonrpc":"2.0","id":7,"method":"cif.getmode","Method":"cif.setmode"}`, wantKind: protocol.KindInvalid, wantID: "7",
			wantMessage: `"Method" is not a JSON-RPC member`},
		{name: "other members ignored", in: `{"jsonrpc":"2.0","id":7,"method":"m","x-trace":"abc"}`, wantKind: protocol.KindRequest, wantID: "7"},
		{name: "escaped member name", in: `{"jsonrpc":"2.0","\u0069d":8,"method":"m","params":[]}`,
			wantKind: protocol.KindRequest, wantID: "8", wantParams: `[]`},
		{name: "garbage", in: `{"jsonrpc":`, parseErr: protocol.CodeParseError},
		{name: "empty", in: ``, parseErr: protocol.CodeParseError},
		{name: "empty batch", in: `[]`, parseErr: protocol.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := protocol.Decode([]byte(tt.in))
			if tt.parseErr != 0 {
				if d.ParseError == nil || d.ParseError.Code != tt.parseErr {
					t.Fatalf("ParseError = %v, want %d", d.ParseError, tt.parseErr)
				}
				return
			}
			m := d.Messages[0]
			if m.Kind != tt.wantKind || string(m.ID) != tt.wantID {
				t.Fatalf("got kind %d id %s, want %d %s", m.Kind, m.ID, tt.wantKind, tt.wantID)
			}
			if tt.wantMessage != "" && (m.Error == nil || m.Error.Code != protocol.CodeInvalidRequest || !strings.Contains(m.Error.Message, tt.wantMessage)) {
				t.Fatalf("error = %+v, want -32600 with %q", m.Error, tt.wantMessage)
			}
			if tt.wantParams != "" && string(m.Params) != tt.wantParams {
				t.Fatalf("params = %s, want %s", m.Params, tt.wantParams)
			}
		})
	}
}

// TestDecodeIntoOverwritesAll: DecodeInto leaves nothing of what *d held
// (a reader reuses one Decoded): whatever came before, the result is
// Decode's.
func TestDecodeIntoOverwritesAll(t *testing.T) {
	frames := []string{
		`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Aino"}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"m"},{"jsonrpc":"2.0","method":"n"}]`,
		`{"jsonrpc":"2.0","id":"a","error":{"code":-32000,"message":"x"}}`,
		`{"jsonrpc":"2.0","id":true,"method":"m"}`,
		`{"jsonrpc":`, `[]`, `7`, ``,
	}
	for _, before := range frames {
		for _, in := range frames {
			var d protocol.Decoded
			protocol.DecodeInto(&d, []byte(before))
			protocol.DecodeInto(&d, []byte(in))
			if want := protocol.Decode([]byte(in)); !reflect.DeepEqual(d, want) {
				t.Errorf("DecodeInto(%q) after %q = %+v, want %+v", in, before, d, want)
			}
		}
	}
}

// FuzzDecode: Decode never panics, and every answer it implies encodes to
// valid JSON-RPC with a non-zero code and the id byte-for-byte.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{}}}`,
		`[{"jsonrpc":"2.0","id":-1,"method":"a"},{"jsonrpc":"2.0","method":"b"},1]`,
		`{"jsonrpc":"2.0","id":9007199254740993,"result":null}`, `{"id":"\u003c"}`, `[]`, `{`, `null`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := protocol.Decode(data)
		// -32700 exactly when the text is not JSON (an empty batch is -32600).
		if valid := json.Valid(data); valid != (d.ParseError == nil || d.ParseError.Code != protocol.CodeParseError) {
			t.Fatalf("json.Valid=%v but ParseError=%v for %q", valid, d.ParseError, data)
		}
		if d.ParseError != nil {
			out := protocol.AppendResponse(nil, nil, nil, d.ParseError)
			if !json.Valid(out) {
				t.Fatalf("invalid parse-error answer %s", out)
			}
			return
		}
		for _, m := range d.Messages {
			for _, raw := range []json.RawMessage{m.ID, m.Params, m.Result} {
				if len(raw) > 0 && !json.Valid(raw) {
					t.Fatalf("a member of %q decoded as %q, not one JSON value", data, raw)
				}
			}
			if m.Kind == protocol.KindInvalid {
				if m.Error == nil || m.Error.Code == 0 {
					t.Fatalf("invalid message without a coded error: %+v", m)
				}
			}
			if m.IsCall() {
				out := protocol.AppendResponse(nil, m.ID, json.RawMessage(`1`), m.Error)
				if !json.Valid(out) {
					t.Fatalf("answer to %q is not valid JSON: %s", data, out)
				}
				var back struct {
					ID json.RawMessage `json:"id"`
				}
				json.Unmarshal(out, &back)
				if len(m.ID) > 0 && string(back.ID) != string(m.ID) {
					t.Fatalf("id %s came back as %s", m.ID, back.ID)
				}
			}
		}
	})
}
