package protocol_test

import (
	"encoding/json"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/cifbridge/cifbridge/protocol"
)

var benchCreateRequest = []byte(`{"jsonrpc":"2.0","id":4711,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","fullname":"Aino Virtanen","telephone1":"+358401234567","mobilephone":"+358407654321","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}}}`)

var benchCreateResponse = []byte(`{"jsonrpc":"2.0","id":4711,"result":{"entityType":"contact","id":"9b2f6a1e-4c1d-4f7e-9a7b-2d3c4e5f6a7b"}}`)

func BenchmarkDecodeCreateRequest(b *testing.B) {
	benchDecode(b, benchCreateRequest, protocol.KindRequest)
}

// benchDecode decodes frame, whose first message is of kind, over and over.
func benchDecode(b *testing.B, frame []byte, kind protocol.Kind) {
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if d := protocol.Decode(frame); d.Messages[0].Kind != kind {
			b.Fatalf("decoded a message of kind %v, want %v", d.Messages[0].Kind, kind)
		}
	}
}

// BenchmarkDecodeCreateParams is what the bridge does next: named params,
// unknown fields refused.
func BenchmarkDecodeCreateParams(b *testing.B) {
	b.ReportAllocs()
	params := protocol.Decode(benchCreateRequest).Messages[0].Params
	for b.Loop() {
		var p protocol.CreateRecordParams
		if err := protocol.DecodeParams(params, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeCreateRequest(b *testing.B) {
	b.ReportAllocs()
	params := protocol.Decode(benchCreateRequest).Messages[0].Params
	id := json.RawMessage("4711")
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = protocol.AppendRequest(buf[:0], id, protocol.MethodCreateRecord, params)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeCreateResponse(b *testing.B) {
	benchDecode(b, benchCreateResponse, protocol.KindResponse)
}

func BenchmarkEncodeCreateResponse(b *testing.B) {
	b.ReportAllocs()
	result := json.RawMessage(`{"entityType":"contact","id":"9b2f6a1e-4c1d-4f7e-9a7b-2d3c4e5f6a7b"}`)
	id := json.RawMessage("4711")
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = protocol.AppendResponse(buf[:0], id, result, nil)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodeCreateResponseNew is the answer as rpcconn makes it: into a
// new buffer.
func BenchmarkEncodeCreateResponseNew(b *testing.B) {
	b.ReportAllocs()
	result := json.RawMessage(`{"entityType":"contact","id":"9b2f6a1e-4c1d-4f7e-9a7b-2d3c4e5f6a7b"}`)
	id := json.RawMessage("4711")
	for b.Loop() {
		buf := protocol.AppendResponse(nil, id, result, nil)
		b.SetBytes(int64(len(buf)))
	}
}

// BenchmarkScanValidFlatObject is the emulator's scan of a record body it
// got from validated params (the third pass over the record value).
func BenchmarkScanValidFlatObject(b *testing.B) {
	b.ReportAllocs()
	var p protocol.CreateRecordParams
	if err := protocol.DecodeParams(protocol.Decode(benchCreateRequest).Messages[0].Params, &p); err != nil {
		b.Fatal(err)
	}
	n := 0
	member := func(name []byte, value jsontext.Value) error { n += len(name) + len(value); return nil }
	for b.Loop() {
		if err := protocol.ScanValidFlatObject(p.Value, member); err != nil {
			b.Fatal(err)
		}
	}
}
