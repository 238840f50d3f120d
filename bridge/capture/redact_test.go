package capture_test

import (
	"encoding/json"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/capture"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"nothing to redact", `{"a": [1, "x", {"b":null}], "c" :"Bearer"}`, `{"a": [1, "x", {"b":null}], "c" :"Bearer"}`},
		{"named members, any case and separator", `{"Authorization":"x","TOKEN":1,"enreach_token":{"a":"b"},"client-secret":["s"],"apikey":true,"passwordHint":"ok"}`,
			`{"Authorization":"[redacted]","TOKEN":"[redacted]","enreach_token":"[redacted]","client-secret":"[redacted]","apikey":"[redacted]","passwordHint":"ok"}`},
		{"hello's resume token", `{"result":{"session":"s1","resumeToken":"9c1e0f"}}`, `{"result":{"session":"s1","resumeToken":"[redacted]"}}`},
		{"escaped member name", `{"tok\u0065n":"x"}`, `{"tok\u0065n":"[redacted]"}`},
		{"bearer and basic values", `{"h":["bearer abc","Basic dXNl","Bearerish"],"n":{"m":"BASIC  x"}}`, `{"h":["[redacted]","[redacted]","Bearerish"],"n":{"m":"[redacted]"}}`},
		{"whitespace kept", "{ \"password\" :\t\"p\" , \"x\" : 1 }", "{ \"password\" :\t\"[redacted]\" , \"x\" : 1 }"},
		{"JSON inside a string", `{"value":"{\"firstname\":\"Ada\",\"secret\":\"s<1>\"}"}`, `{"value":"{\"firstname\":\"Ada\",\"secret\":\"[redacted]\"}"}`},
		{"JSON string without secrets untouched", `{"value":"{\"firstname\":\"A\\u00e9\"}"}`, `{"value":"{\"firstname\":\"A\\u00e9\"}"}`},
		{"top-level string", `"Bearer abc"`, `"[redacted]"`},
		{"nested secret members", `{"token":{"token":"a"},"b":[{"Password":"p"}]}`, `{"token":"[redacted]","b":[{"Password":"[redacted]"}]}`},
		{"text: auth header", "Authorization: Bearer abc.def-ghi\r\nX: 1", "Authorization: [redacted] [redacted]\r\nX: 1"},
		{"text: key=value", `user=ann&password=hunter2&x=1`, `user=ann&password=[redacted]&x=1`},
		{"text: torn JSON", `{"token":"abc","b":`, `{"token":"[redacted]","b":`},
		{"text: nothing", `hello world`, `hello world`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := capture.Redact(in)
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if tt.in == tt.want && &got[0] != &in[0] {
				t.Error("unchanged input was copied")
			}
			if string(in) != tt.in {
				t.Error("input was modified")
			}
		})
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`{"a":"Bearer x","token":{"b":1}}`,
		`{"value":"{\"password\":\"p\"}"}`,
		`[1,"basic  y",{"Authorization":null}]`,
		"Authorization: Bearer abc",
		`password=1&token=2`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := string(in)
		out := capture.Redact(in)
		if string(in) != orig {
			t.Fatal("input modified")
		}
		if json.Valid(in) != json.Valid(out) {
			t.Fatalf("validity changed: %q → %q", in, out)
		}
		if again := capture.Redact(out); string(again) != string(out) {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}
	})
}
