package protocol

import (
	"strconv"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// generalFrame is Decode's general path for one object: the jsonv2
// decoder filling a wireObject.
func generalFrame(data []byte) (wireObject, bool) {
	var w wireObject
	err := jsonv2.Unmarshal(data, &w, envelopeOptions)
	return w, err == nil
}

// checkScanFrame is FuzzScanFrame's property: whatever scanFrame accepts,
// the general path accepts too, with the same spans and no other member.
func checkScanFrame(t *testing.T, data []byte) bool {
	t.Helper()
	data = trimJSONSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	var fast wireObject
	if !scanFrame(data, &fast) {
		return false
	}
	general, ok := generalFrame(data)
	if !ok {
		t.Fatalf("scanFrame accepted %q, which the general decoder refuses", data)
	}
	if len(general.Other) != 0 {
		t.Fatalf("scanFrame accepted %q, which has other members (%s)", data, general.Other)
	}
	if fast.JSONRPC != general.JSONRPC || fast.ID != general.ID || fast.Method != general.Method ||
		fast.Params != general.Params || fast.Result != general.Result || fast.Error != general.Error {
		t.Fatalf("scanFrame(%q) = %+v, the general decoder %+v", data, fast, general)
	}
	var fm, gm Message
	fromWire(&fm, data, &fast)
	fromWire(&gm, data, &general)
	if fm.Kind != gm.Kind {
		t.Fatalf("%q classified differently", data)
	}
	return true
}

var scanFrameSeeds = []string{
	`{"jsonrpc":"2.0","id":17,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","age":-1.5e+3,"ok":true,"no":false,"x":null,"l":[1,[2,{}],{"a":"b"}]}}}`,
	`{"jsonrpc":"2.0","id":"a\"b\\c\/\b\f\n\r\t\u00e9","method":"cif.getmode"}`,
	` { "jsonrpc" : "2.0" , "id" : null , "result" : { } } `,
	`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x","data":[]}}`,
	`{}`, `{"id":0}`, `{"id":-0.0E-0}`, "{\"id\":\"\xff\xfe\"}", "{\"params\":{\"\xc3\xa9\":1}}",
	// Space of every kind before each ',' and each closer, at every depth
	// (afterValue's own loop), and none at all.
	"{\"id\":1 \t\n\r,\"params\":{\"a\":[1 ,2\t,{\"b\":\"c\"\n}\r]\r\n, \"d\":[]\t}\n}\r\n",
	`{"id":1,"params":{"a":[1,2,{"b":"c"}],"d":[[],{}]}}`,
}

// The frames scanFrame must leave to the general path: invalid, or a shape
// it does not take on (the general path then answers exactly as before).
var scanFrameRefused = []string{
	`{"jsonrpc":"2.0","id":1,"id":2}`,                // duplicate member
	`{"params":{"a":1,"a":2}}`,                       // duplicate nested
	`{"params":[{"a":1},{"a":{"a":{"a":1,"a":1}}}]}`, // duplicate deep
	`{"ID":1}`, `{"x":1}`, `{"i\u0064":1}`, // miscased, other, escaped name
	`{"params":{"\u0061":1}}`, // escaped nested name
	`{"id":01}`, `{"id":1.}`, `{"id":.5}`, `{"id":1e}`, `{"id":-}`, `{"id":+1}`,
	`{"id":tru}`, `{"id":nul}`, `{"id":truex}`, `{"id":"\x"}`, `{"id":"\u12"}`, `{"id":"\ud800"}`,
	"{\"id\":\"a\x01\"}", `{"id":1,}`, `{"id":1`, `{"id":[1,]}`, `{"id":[1 2]}`, `{"id":1}x`, `{"id":1}{}`,
	`{"id" 1}`, `{,}`, `{"params":{"a":1,}}`, "{\"params\":{\"\xff\":1,\"\xfe\":2}}",
	`{"params":` + strings.Repeat("[", maxFastDepth+1) + strings.Repeat("]", maxFastDepth+1) + `}`,
	// A value followed by the other container's closer, by a second
	// value, or by nothing, at every depth.
	`{"id":1]`, `{"id":1 ]}`, `{"params":[1}}`, `{"params":[1 }]}`, `{"params":{"a":1]}`, `{"params":{"a":1 ]}}`,
	`{"params":[{"a":1]]}`, `{"params":[1 2]}`, `{"params":{"a":1 "b":2}}`, `{"params":[1,`, `{"params":{"a":1 `,
	`{"id":1 :2}`, `{"params":[1:2]}`, `{"id":1}]`, `{"params":[1]]}`,
}

func TestScanFrame(t *testing.T) {
	for _, s := range scanFrameSeeds {
		if !checkScanFrame(t, []byte(s)) {
			t.Errorf("scanFrame left %q to the general path", s)
		}
	}
	for _, s := range scanFrameRefused {
		if checkScanFrame(t, []byte(s)) {
			t.Errorf("scanFrame accepted %q", s)
		}
	}
	// Many members in one object: past maxFastNames it gives up, below it
	// it still finds a duplicate at the end.
	members := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(`"m` + strconv.Itoa(i) + `":1,`)
		}
		return b.String()
	}
	if !checkScanFrame(t, []byte(`{"params":{`+members(maxFastNames-1)+`"z":2}}`)) {
		t.Error("an object of maxFastNames members left to the general path")
	}
	if checkScanFrame(t, []byte(`{"params":{`+members(maxFastNames-1)+`"m7":2}}`)) {
		t.Error("a duplicate among many members accepted")
	}
	if checkScanFrame(t, []byte(`{"params":{`+members(maxFastNames)+`"z":2}}`)) {
		t.Error("more names than scanFrame can check accepted")
	}
}

// FuzzScanFrame: on any input, what scanFrame accepts the general path
// accepts with the same member spans (so Decode answers exactly as
// before); scanFrame never panics and always ends.
func FuzzScanFrame(f *testing.F) {
	for _, s := range append(append([]string{}, scanFrameSeeds...), scanFrameRefused...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkScanFrame(t, data) })
}
