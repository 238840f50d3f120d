package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
	"unsafe"
)

// TestDecodeParamsAliased decodes like DecodeParams (same values, same
// errors) but leaves json.RawMessage members as slices of the params.
func TestDecodeParamsAliased(t *testing.T) {
	params := json.RawMessage(` {"entityName":"contact","value": {"firstname":"Aino" , "n":[1,2]} } `)
	var a, c CreateRecordParams
	if err := DecodeParamsAliased(params, &a); err != nil {
		t.Fatal(err)
	}
	if err := DecodeParams(params, &c); err != nil {
		t.Fatal(err)
	}
	if a.EntityName != c.EntityName || !bytes.Equal(a.Value, c.Value) {
		t.Fatalf("aliased %+v, copied %+v", a, c)
	}
	start, end := uintptr(unsafe.Pointer(unsafe.SliceData(params))), uintptr(unsafe.Pointer(unsafe.SliceData(params)))+uintptr(len(params))
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(a.Value))); p < start || p >= end {
		t.Error("value is a copy, not a slice of the params")
	}
	if cap(a.Value) != len(a.Value) {
		t.Errorf("value has capacity %d past its length %d: an append would write into the params", cap(a.Value), len(a.Value))
	}
	for _, bad := range []string{`{"entityName":"contact","value":{},"x":1}`, `{"entityName":1}`, `[1]`, `{"value":{`} {
		var p1, p2 CreateRecordParams
		e1, e2 := DecodeParamsAliased(json.RawMessage(bad), &p1), DecodeParams(json.RawMessage(bad), &p2)
		if e1 == nil || e2 == nil || e1.Error() != e2.Error() {
			t.Errorf("%s: aliased error %v, copying error %v", bad, e1, e2)
		}
	}
}
