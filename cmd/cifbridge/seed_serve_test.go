package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestServeBuiltinSeed: the zero-config daemon finds the caller of the
// sample click-to-act number; --emulator-seed none starts empty; a file
// path still loads that file.
func TestServeBuiltinSeed(t *testing.T) {
	search := func(url, number string) map[string]map[string]any {
		t.Helper()
		res, perr := dialWS(t, url).call(protocol.MethodSearch, map[string]any{"entityName": "contact",
			"queryParameters": "?$select=fullname,mobilephone&$filter=mobilephone eq '" + strings.ReplaceAll(number, "+", "%2B") + "'"})
		if perr != nil {
			t.Fatalf("search: %+v", perr)
		}
		var out map[string]map[string]any
		if err := json.Unmarshal(res, &out); err != nil {
			t.Fatalf("search result %s: %v", res, err)
		}
		return out
	}
	url, _, _ := startServe(t)
	if got := search(url, "+358401234567"); len(got) != 1 || got["0"]["fullname"] != "Ada Lovelace" {
		t.Fatalf("built-in seed: %v", got)
	}
	url, _, _ = startServe(t, "--emulator-seed", "none")
	if got := search(url, "+358401234567"); len(got) != 0 {
		t.Fatalf("--emulator-seed none: %v", got)
	}
	file := tempFile(t, "seed.json", `{"contact":[{"firstname":"Linus","lastname":"Own","mobilephone":"+358401234567"}]}`)
	url, _, _ = startServe(t, "--emulator-seed", file)
	if got := search(url, "+358401234567"); len(got) != 1 || got["0"]["fullname"] != "Linus Own" {
		t.Fatalf("--emulator-seed file: %v", got)
	}
}

// TestBuiltinSeedMatchesSamples: every sample phone number the dashboard
// and the sample softphone offer is a contact's number in the built-in seed.
func TestBuiltinSeedMatchesSamples(t *testing.T) {
	var seed map[string][]map[string]any
	if err := json.Unmarshal(emulator.BuiltinSeed, &seed); err != nil {
		t.Fatal(err)
	}
	phones := map[string]bool{}
	for _, c := range seed["contact"] {
		for _, f := range []string{"mobilephone", "telephone1"} {
			if s, ok := c[f].(string); ok {
				phones[s] = true
			}
		}
	}
	num := regexp.MustCompile(`\+358\d{6,}`)
	for _, f := range []string{"../../web/dashboard/events.js", "../../web/examples/softphone.html"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found := num.FindAllString(string(b), -1)
		if len(found) == 0 {
			t.Fatalf("%s: no sample number found (has the sample moved?)", f)
		}
		for _, n := range found {
			if !phones[n] {
				t.Errorf("%s offers %s, which no contact of the built-in seed has", f, n)
			}
		}
	}
	if _, err := emulator.New(emulator.Config{Seed: emulator.BuiltinSeed}); err != nil {
		t.Fatalf("the built-in seed does not load: %v", err)
	}
}
