package protocol_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

var updateEnvelope = flag.Bool("update-envelope", false, "rewrite testdata/capture/postmessage.normalized.golden")

func TestEnvelopeToJSONRPC(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			"request with object data",
			`{"messageType":"retrieverecord","messageData":{"entityName":"contact","entityId":"g1","queryParameters":"?$select=fullname"},"messageCorrelationId":"c1"}`,
			`{"jsonrpc":"2.0","id":"c1","method":"cif.retrieverecord","params":{"entityName":"contact","entityId":"g1","queryParameters":"?$select=fullname"}}`,
		},
		{
			"request with data as a JSON string holding an object",
			`{"messageType":"createrecord","messageData":"{\"entityName\":\"contact\",\"value\":{}}","messageCorrelationId":"c2"}`,
			`{"jsonrpc":"2.0","id":"c2","method":"cif.createrecord","params":{"entityName":"contact","value":{}}}`,
		},
		{
			"request without data",
			`{"messageType":"getenvironment","messageCorrelationId":"c3"}`,
			`{"jsonrpc":"2.0","id":"c3","method":"cif.getenvironment","params":{}}`,
		},
		{
			"request with a scalar and a numeric correlation id",
			`{"messageType":"setwidth","messageData":420,"messageCorrelationId":17}`,
			`{"jsonrpc":"2.0","id":"17","method":"cif.setwidth","params":{"value":420}}`,
		},
		{
			"event with string data",
			`{"messageType":"onclicktoact","messageData":"{\"value\":\"+358401234567\",\"name\":\"mobilephone\"}","messageCorrelationId":"e1"}`,
			`{"jsonrpc":"2.0","id":"e1","method":"cif.onclicktoact","params":{"eventData":{"value":"+358401234567","name":"mobilephone"}}}`,
		},
		{
			"known event with object data",
			`{"messageType":"onSessionSwitched","messageData":{"sessionId":"s2"},"messageCorrelationId":"e2"}`,
			`{"jsonrpc":"2.0","id":"e2","method":"cif.onSessionSwitched","params":{"eventData":{"sessionId":"s2"}}}`,
		},
		{
			"unknown on-event with non-JSON string data",
			`{"messageType":"oncustom","messageData":"plain text","messageCorrelationId":"e3"}`,
			`{"jsonrpc":"2.0","id":"e3","method":"cif.oncustom","params":{"eventData":"plain text"}}`,
		},
		{
			"request type in the widget API's camel case",
			`{"messageType":"createRecord","messageData":{"entityName":"contact","value":{}},"messageCorrelationId":"c10"}`,
			`{"jsonrpc":"2.0","id":"c10","method":"cif.createrecord","params":{"entityName":"contact","value":{}}}`,
		},
		{
			"request type lower-cased where the bridge keeps camel case",
			`{"messageType":"getentitymetadata","messageData":{"entityName":"contact"},"messageCorrelationId":"c11"}`,
			`{"jsonrpc":"2.0","id":"c11","method":"cif.getEntityMetadata","params":{"entityName":"contact"}}`,
		},
		{
			"unknown request type kept as sent",
			`{"messageType":"createSession","messageCorrelationId":"c12"}`,
			`{"jsonrpc":"2.0","id":"c12","method":"cif.createSession","params":{}}`,
		},
		{
			"event type in another case",
			`{"messageType":"OnClickToAct","messageData":"{}","messageCorrelationId":"e4"}`,
			`{"jsonrpc":"2.0","id":"e4","method":"cif.onclicktoact","params":{"eventData":{}}}`,
		},
		{
			"success with value",
			`{"messageOutcome":"success","messageData":{"value":"{\"entityType\":\"contact\",\"id\":\"g\"}"},"messageCorrelationId":"c2"}`,
			`{"jsonrpc":"2.0","id":"c2","result":"{\"entityType\":\"contact\",\"id\":\"g\"}"}`,
		},
		{
			"success without value",
			`{"messageOutcome":"success","messageData":{"a":1},"messageCorrelationId":"c4"}`,
			`{"jsonrpc":"2.0","id":"c4","result":{"a":1}}`,
		},
		{
			"success without data",
			`{"messageOutcome":"success","messageCorrelationId":"c5"}`,
			`{"jsonrpc":"2.0","id":"c5","result":null}`,
		},
		{
			"failure: client-side validation error",
			`{"messageOutcome":"failure","messageData":{"message":"entityName is missing","msdyn_name":"createrecord"},"messageCorrelationId":"c6"}`,
			`{"jsonrpc":"2.0","id":"c6","error":{"code":-32001,"message":"entityName is missing","data":{"message":"entityName is missing","msdyn_name":"createrecord"}}}`,
		},
		{
			"failure: CIF timeout",
			`{"messageOutcome":"failure","messageData":{"message":"Timeout occurred as no response was received from listener window"},"messageCorrelationId":"c7"}`,
			`{"jsonrpc":"2.0","id":"c7","error":{"code":-32000,"message":"Timeout occurred as no response was received from listener window","data":{"message":"Timeout occurred as no response was received from listener window"}}}`,
		},
		{
			"failure: stock CIF error as a JSON string",
			`{"messageOutcome":"failure","messageData":"{\"value\":{\"errorMsg\":\"boom\",\"errorType\":2}}","messageCorrelationId":"c8"}`,
			`{"jsonrpc":"2.0","id":"c8","error":{"code":-32001,"message":"boom","data":"{\"value\":{\"errorMsg\":\"boom\",\"errorType\":2}}"}}`,
		},
		{
			"failure without a message",
			`{"messageOutcome":"failure","messageData":42,"messageCorrelationId":"c9"}`,
			`{"jsonrpc":"2.0","id":"c9","error":{"code":-32001,"message":"CIF call failed","data":42}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocol.EnvelopeToJSONRPC(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if d := protocol.Decode(got); d.ParseError != nil || d.Messages[0].Kind == protocol.KindInvalid {
				t.Fatalf("output is not valid JSON-RPC: %+v", d)
			}
		})
	}
}

func TestEnvelopeToJSONRPCErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `{`, "expected a JSON object"},
		{"array", `[]`, "expected a JSON object"},
		{"JSON-RPC, not an envelope", `{"jsonrpc":"2.0","id":1,"method":"x"}`, `"messageCorrelationId" is missing`},
		{"no type nor outcome", `{"messageCorrelationId":"c"}`, `neither "messageType" nor "messageOutcome"`},
		{"bad outcome", `{"messageOutcome":"maybe","messageCorrelationId":"c"}`, `"messageOutcome" is "maybe"`},
		{"object correlation id", `{"messageType":"x","messageCorrelationId":{}}`, "must be a string or a number"},
		{"wrong member type", `{"messageType":5,"messageCorrelationId":"c"}`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := protocol.EnvelopeToJSONRPC(json.RawMessage(tt.in))
			if !errors.Is(err, protocol.ErrNotEnvelope) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrNotEnvelope containing %q", err, tt.want)
			}
		})
	}
}

// TestPostMessageCapture normalises the hand-written recorder capture and
// compares it with testdata/capture/postmessage.normalized.golden (one msg a
// line; -update-envelope rewrites it).
func TestPostMessageCapture(t *testing.T) {
	r := openCapture(t, "postmessage.jsonl")
	r.Normalize = true
	if h := r.Header(); h.Source != protocol.CaptureSourcePostMessage || h.Session != "rec-1" {
		t.Fatalf("header = %+v", h)
	}
	frames, err := r.Rest()
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, fr := range frames {
		if d := protocol.Decode(fr.Msg); d.ParseError != nil || d.Messages[0].Kind == protocol.KindInvalid {
			t.Fatalf("line %d: not JSON-RPC: %s", fr.Line, fr.Msg)
		}
		got.WriteString(fr.Peer + " " + fr.Dir + " " + string(fr.Msg) + "\n")
	}
	const golden = "testdata/capture/postmessage.normalized.golden"
	if *updateEnvelope {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, golden); got.String() != want {
		t.Fatalf("normalised capture differs from %s:\ngot:\n%s\nwant:\n%s", golden, got.String(), want)
	}
}

func TestNormalizeIgnoresBridgeCaptures(t *testing.T) {
	r := openCapture(t, "normal.jsonl")
	r.Normalize = true // a no-op: the msgs already are JSON-RPC
	if n := countFrames(t, r); n != 8 {
		t.Fatalf("frames = %d", n)
	}
}

func TestNormalizeBadEnvelopeNamesLine(t *testing.T) {
	in := strings.SplitAfter(readFile(t, "testdata/capture/postmessage.jsonl"), "\n")
	in[3] = `{"t":"2025-05-02T08:30:01.000Z","peer":"widget","dir":"in","msg":{"jsonrpc":"2.0","id":1,"method":"x"}}` + "\n"
	r, err := protocol.NewCaptureReader(strings.NewReader(strings.Join(in, "")), "pm.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	r.Normalize = true
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, protocol.ErrNotEnvelope) || !strings.HasPrefix(err.Error(), "pm.jsonl:4: ") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzEnvelopeToJSONRPC(f *testing.F) {
	for _, s := range []string{
		`{"messageType":"createrecord","messageData":{"entityName":"contact","value":"{}"},"messageCorrelationId":"c"}`,
		`{"messageType":"onclicktoact","messageData":"{\"value\":\"+358\"}","messageCorrelationId":"e"}`,
		`{"messageOutcome":"success","messageData":{"value":1},"messageCorrelationId":1}`,
		`{"messageOutcome":"failure","messageData":"{\"value\":{\"errorMsg\":\"x\"}}","messageCorrelationId":"c"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := protocol.EnvelopeToJSONRPC(in)
		if err != nil {
			if !errors.Is(err, protocol.ErrNotEnvelope) {
				t.Fatalf("error does not wrap ErrNotEnvelope: %v", err)
			}
			return
		}
		d := protocol.Decode(out)
		if d.ParseError != nil || d.Batch || d.Messages[0].Kind == protocol.KindInvalid || d.Messages[0].Kind == protocol.KindNotification {
			t.Fatalf("%s → %s: not a JSON-RPC request or response", in, out)
		}
	})
}
