package protocol

import "testing"

// TestDecodeMethodNames checks that interned method names (known, plain)
// and decoded ones (escaped, unknown) come out the same as JSON says, and
// that a pooled envelope keeps nothing of the message before.
func TestDecodeMethodNames(t *testing.T) {
	for _, c := range []struct{ frame, method string }{
		{`{"jsonrpc":"2.0","id":1,"method":"cif.createrecord","params":{}}`, MethodCreateRecord},
		{`{"jsonrpc":"2.0","id":1,"method":"cif.create\u0072ecord","params":{}}`, MethodCreateRecord},
		{`{"jsonrpc":"2.0","id":1,"method":"no.such\"method"}`, `no.such"method`},
		{`{"jsonrpc":"2.0","id":1,"method":"x"}`, "x"},
	} {
		d := Decode([]byte(c.frame))
		if len(d.Messages) != 1 || d.Messages[0].Kind != KindRequest || d.Messages[0].Method != c.method {
			t.Errorf("%s: got %+v, want a request of %q", c.frame, d, c.method)
		}
	}
	// A miscased member in one message must not leak into the next one
	// decoded with the same pooled envelope.
	if d := Decode([]byte(`{"jsonrpc":"2.0","id":1,"method":"x","METHOD":"y"}`)); d.Messages[0].Kind != KindInvalid {
		t.Fatalf("miscased member accepted: %+v", d.Messages[0])
	}
	for range 4 {
		if d := Decode([]byte(`{"jsonrpc":"2.0","id":2,"method":"x"}`)); d.Messages[0].Kind != KindRequest {
			t.Fatalf("clean message refused after a miscased one: %+v", d.Messages[0])
		}
	}
	if d := Decode([]byte(`{"jsonrpc":"2.0","id":1,"method":""}`)); d.Messages[0].Kind != KindInvalid {
		t.Errorf("empty method accepted: %+v", d.Messages[0])
	}
}
