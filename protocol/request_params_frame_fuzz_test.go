package protocol_test

import (
	"reflect"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// requestFrames are whole frames whose params scanFrame records at every
// place a frame may put them: first, between the other members, last;
// with space of every kind around the names, colons and commas; after
// members holding escapes, multi-byte text, invalid UTF-8, deep values
// and huge numbers; in a batch; and params of the record calls' shapes
// with escaped, nested, duplicate and extra members.
var requestFrames = []string{
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"a":1}}}`,
	`{"params":{"entityName":"contact","value":{"a":1}},"jsonrpc":"2.0","id":1,"method":"cif.createrecord"}`,
	`{"jsonrpc":"2.0","params":{"entityName":"contact","entityId":"x","value":{}},"id":"a\"b\\c","method":"cif.updaterecord"}`,
	" \t\r\n{ \"jsonrpc\" : \"2.0\" ,\n\"id\" :\t7 , \"method\":\"cif.retrieverecord\" , \"params\" :\r\n{ \"entityName\" : \"contact\" ,\t\"entityId\" : \"x\" , \"queryParameters\" : \"?$select=a\" } } \n",
	`{"jsonrpc":"2.0","id":"\u00e4\u20ac","method":"cif.createrecord","params":{"entityName":"Mäkinen","value":"{\"a\":1}"}}`,
	"{\"jsonrpc\":\"2.0\",\"id\":\"\xff\xfe\",\"method\":\"cif.createrecord\",\"params\":{\"entityName\":\"\xffcontact\",\"value\":{\"a\":\"\xc3\"}}}",
	`{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"cif.createrecord","params":{"entityName":"contact","value":{"n":1e400,"m":-0.0E-7}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"value":{"entityName":"inner","value":{"entityName":"deeper"}},"entityName":"contact"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"a","entityName":"b"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"a":1,"a":2}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entity\u004eame":"contact","value":{}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"c\u006fntact","value":{}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","entityId":"x","queryParameters":"q","value":{}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":[{"entityName":"x"}]}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":[{"entityName":"contact","value":{}}]}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{}}`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}}`,
	`[{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{}}},{"jsonrpc":"2.0","id":2,"method":"cif.retrieverecord","params":{"entityName":"contact","entityId":"x"}}]`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"a":1}},"params":{"entityName":"account","value":{}}}`,
	// scanFrame records entityName, then gives up inside value (an
	// escaped name): what it recorded must not outlive its giving up, in
	// a batch (decodeOne's object is then decoded again) or alone.
	`[{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"\u0061":1}}}]`,
	`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{"entityName":"contact","value":{"\u0061":1}}}`,
}

// FuzzDecodeRequestParamsInFrame: whatever frame Decode reads, for every
// request it returns, DecodeRequestParams gives exactly what the
// validating decoder gives for that request's Params (the same params, or
// the same error), for every params type: the members scanFrame recorded
// while reading the frame always lie where a fresh scan of Params finds
// them, wherever the params sat in the frame and whatever surrounded
// them.
func FuzzDecodeRequestParamsInFrame(f *testing.F) {
	for _, s := range requestFrames {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkFrameRequestParams(t, frame)
	})
}

// TestDecodeRequestParamsInFrame runs the fuzz target's check on its seeds
// (go test runs them too; this names the property in a plain test run).
func TestDecodeRequestParamsInFrame(t *testing.T) {
	for _, s := range requestFrames {
		checkFrameRequestParams(t, []byte(s))
	}
}

func checkFrameRequestParams(t *testing.T, frame []byte) {
	t.Helper()
	d := protocol.Decode(frame)
	if d.ParseError != nil {
		return
	}
	for i := range d.Messages {
		m := &d.Messages[i]
		if m.Kind != protocol.KindRequest {
			continue
		}
		for _, target := range paramsTargets {
			want, got := target(), target()
			wantErr := protocol.DecodeParamsAliased(m.Params, want)
			gotErr := protocol.DecodeRequestParams(m, got)
			if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
				t.Fatalf("frame %q, message %d: DecodeRequestParams %T: error %v, the validating decoder's %v", frame, i, got, gotErr, wantErr)
			}
			if wantErr == nil && !reflect.DeepEqual(want, got) {
				t.Fatalf("frame %q, message %d: DecodeRequestParams %T: %+v, the validating decoder's %+v", frame, i, got, got, want)
			}
		}
		// A copy of the message (the bridge passes *Message, but a copy
		// keeps pointing at the same frame) decodes alike.
		c := *m
		var a, b protocol.CreateRecordParams
		if ea, eb := protocol.DecodeRequestParams(&c, &a), protocol.DecodeRequestParams(m, &b); (ea == nil) != (eb == nil) || !reflect.DeepEqual(a, b) {
			t.Fatalf("frame %q: a copy of message %d decodes to %+v (%v), the original to %+v (%v)", frame, i, a, ea, b, eb)
		}
	}
}
